package modelserver

import (
	"encoding/json"
	"regexp"
	"strings"
	"time"
)

// plan is the answer chosen for a request.
type plan struct {
	Decision
	call  *toolCall // nil for text
	text  string    // the text to send when call is nil
	delay time.Duration
	fail  *Fail
	stall bool
	usage Usage // the script's, read with the decision
}

// toolCall is one call in the API-neutral form the writers turn into each
// API's shape.
type toolCall struct {
	name   string
	custom bool   // Responses freeform: args is the raw input
	args   string // JSON object (or anything, for raw_args)
}

func (s Script) defaultText() string {
	if s.DefaultText == "" {
		return "OK"
	}
	return s.DefaultText
}

// decide applies the rules of the package doc to one request.
func decide(sc Script, p *parsed) plan {
	pl := plan{Decision: Decision{Step: -1, Action: -1, Cwd: detectCwd(p.context)}}
	if len(p.tools) == 0 {
		// A title, router or summary request: never a tool call.
		pl.text = sc.defaultText()
		if p.wantsJSON {
			b, _ := json.Marshal(exampleOf(p.jsonSchema))
			pl.text = string(b)
		}
		pl.Text = pl.text
		return pl
	}
	seg := newestSegment(p.events)
	prompt := segmentText(seg)
	results := countResults(seg)
	step := -1
	for i, st := range sc.Steps {
		if st.Match == "*" || strings.Contains(prompt, st.Match) {
			step = i
			break
		}
	}
	pl.Step = step
	if step < 0 || results >= len(sc.Steps[step].Actions) {
		pl.text = sc.defaultText()
		pl.Text = pl.text
		return pl
	}
	pl.Action = results
	a := sc.Steps[step].Actions[results]
	pl.delay = time.Duration(a.Delay * float64(time.Second))
	switch {
	case a.Fail != nil:
		f := *a.Fail
		if f.Status == 0 {
			f.Status = 500
		}
		pl.fail = &f
		pl.Text = f.Message
	case a.Stall:
		pl.stall = true
	case a.Text != "":
		pl.text, pl.Text = a.Text, a.Text
	default:
		c, err := mapAction(a, p, pl.Cwd)
		if err != nil {
			pl.text = "modelserver: " + err.Error()
			pl.Text = pl.text
			return pl
		}
		pl.call = c
		pl.Tool, pl.Args = c.name, c.args
	}
	return pl
}

// newestSegment returns the events of the newest prompt segment: a segment
// starts at the first user text after the model ended a turn with text.
// User text that comes while a tool call is pending (reminders next to a
// tool result) stays in the current segment.
func newestSegment(evs []event) []event {
	start, ended := 0, true
	for i, e := range evs {
		switch e.kind {
		case evUser:
			if ended {
				start, ended = i, false
			}
		case evAssistant:
			ended = true
		case evCall:
			ended = false
		}
	}
	return evs[start:]
}

func segmentText(seg []event) string {
	var b strings.Builder
	for _, e := range seg {
		if e.kind == evUser {
			b.WriteString(e.text)
			b.WriteString("\n")
		}
	}
	return b.String()
}

// countResults counts the tool results of a segment; results with the same
// call id count once (Gemini repeats a functionResponse after a resume).
func countResults(seg []event) int {
	n := 0
	seen := map[string]bool{}
	for _, e := range seg {
		if e.kind != evResult {
			continue
		}
		if e.id != "" {
			if seen[e.id] {
				continue
			}
			seen[e.id] = true
		}
		n++
	}
	return n
}

// Where each CLI states its working directory in its own context text.
var cwdPatterns = []*regexp.Regexp{
	regexp.MustCompile(`<cwd>([^<\n]+)</cwd>`),                              // Codex
	regexp.MustCompile(`Primary working directory: *([^\n]+)`),              // Claude Code
	regexp.MustCompile(`\*\*Workspace Directories:\*\*\s*\n\s*- *([^\n]+)`), // Gemini CLI
	regexp.MustCompile(`(?m)^\s*Working directory: *([^\n]+)`),              // OpenCode, agentorg
}

// detectCwd returns the last working directory the texts mention.
func detectCwd(texts []string) string {
	cwd := ""
	for _, t := range texts {
		best := -1
		for _, re := range cwdPatterns {
			for _, m := range re.FindAllStringSubmatchIndex(t, -1) {
				if m[0] > best {
					best = m[0]
					cwd = t[m[2]:m[3]]
				}
			}
		}
	}
	return strings.Trim(strings.TrimSpace(cwd), "`\"'")
}

// exampleOf builds a value that satisfies a JSON schema (OpenAPI-style
// upper-case types included): every property, strings "scripted", numbers
// their minimum or 1, enums their first value.
func exampleOf(schema any) any {
	m, ok := schema.(map[string]any)
	if !ok {
		return map[string]any{}
	}
	if e, ok := m["enum"].([]any); ok && len(e) > 0 {
		return e[0]
	}
	typ, _ := m["type"].(string)
	if ts, ok := m["type"].([]any); ok && len(ts) > 0 {
		typ, _ = ts[0].(string)
	}
	if typ == "" && m["properties"] != nil {
		typ = "object"
	}
	switch strings.ToLower(typ) {
	case "string":
		return "scripted"
	case "integer", "number":
		if v, ok := m["minimum"].(float64); ok && v > 1 {
			return v
		}
		return 1
	case "boolean":
		return false
	case "array":
		return []any{}
	case "null":
		return nil
	}
	out := map[string]any{}
	props, _ := m["properties"].(map[string]any)
	for k, v := range props {
		out[k] = exampleOf(v)
	}
	return out
}
