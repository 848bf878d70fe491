package opencode

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli"
)

// event is one line of `opencode run --format json`: {type, timestamp,
// sessionID, part} or, for errors, {type:"error", sessionID, error}.
type event struct {
	Type      string `json:"type"`
	SessionID string `json:"sessionID"`
	Part      struct {
		Text   string `json:"text"`   // text
		Reason string `json:"reason"` // step_finish: "stop", "tool-calls", "length", ...
	} `json:"part"`
	Error *struct {
		Name string `json:"name"`
		Data struct {
			Message string `json:"message"`
		} `json:"data"`
	} `json:"error"`
}

type stepFinish struct {
	Part struct {
		Cost   float64 `json:"cost"`
		Tokens struct {
			Input     int64 `json:"input"` // without the cached part
			Output    int64 `json:"output"`
			Reasoning int64 `json:"reasoning"`
			Cache     struct {
				Read  int64 `json:"read"`
				Write int64 `json:"write"`
			} `json:"cache"`
		} `json:"tokens"`
	} `json:"part"`
}

// looksLikeFinish spots a step_finish line that failed to parse: it carries
// the final state, so a broken one is an error.
var looksLikeFinish = regexp.MustCompile(`^\s*\{.*"type"\s*:\s*"step_finish"`)

// parser interprets stdout lines as they arrive (see cli.Parser).
type parser struct {
	run     cli.Call
	session string
	step    []string // text parts of the current step
	final   []string // text parts of the last finished step
	finish  string   // reason of the last step_finish
	usage   agentorg.Usage
	errors  []string
	bad     string
}

// Result is what OpenCode reported: usage summed over the steps.
func (p *parser) Result() agentorg.Result {
	return agentorg.Result{SessionID: p.session, Summary: p.summary(), Usage: p.usage}
}

func (p *parser) Line(line []byte) {
	if len(line) == 0 || line[0] != '{' {
		return // a log line: it is in the transcript already
	}
	var ev event
	if err := json.Unmarshal(line, &ev); err != nil {
		if looksLikeFinish.Match(line) {
			p.violation(fmt.Sprintf("malformed step_finish line: %v", err))
		}
		return
	}
	if ev.SessionID != "" {
		p.session = ev.SessionID
	}
	switch ev.Type {
	case "step_start":
		p.step = nil
		p.finish = "" // a step is running again: the last finish is not final
	case "text":
		if ev.Part.Text != "" {
			p.step = append(p.step, ev.Part.Text)
		}
	case "step_finish":
		var f stepFinish
		if err := json.Unmarshal(line, &f); err != nil {
			p.violation(fmt.Sprintf("malformed step_finish line: %v", err))
			return
		}
		t := f.Part.Tokens
		p.usage = p.usage.Add(agentorg.Usage{
			InputTokens:  t.Input + t.Cache.Read + t.Cache.Write,
			CachedTokens: t.Cache.Read,
			OutputTokens: t.Output + t.Reasoning,
			CostUSD:      f.Part.Cost,
		})
		p.finish = ev.Part.Reason
		if p.finish == "" {
			p.finish = "(none)"
		}
		p.final, p.step = p.step, nil
	case "error":
		msg := "(no message)"
		if e := ev.Error; e != nil {
			switch {
			case e.Data.Message != "" && e.Name != "":
				msg = e.Name + ": " + e.Data.Message
			case e.Data.Message != "":
				msg = e.Data.Message
			case e.Name != "":
				msg = e.Name
			}
		}
		if len(p.errors) < 10 {
			p.errors = append(p.errors, msg)
		}
	}
}

func (p *parser) violation(msg string) {
	if p.bad == "" {
		p.bad = msg
	}
}

// summary is the text of the last finished step.
func (p *parser) summary() string {
	return strings.TrimSpace(strings.Join(p.final, "\n"))
}
