package gemini

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli"
)

// The stream-json lines of the CLI (packages/core/src/output/types.ts).
// Only the fields used are declared.
type event struct {
	Type      string `json:"type"`
	SessionID string `json:"session_id"` // init
	Role      string `json:"role"`       // message: "user" or "assistant"
	Content   string `json:"content"`    // message
	Severity  string `json:"severity"`   // error: "warning" or "error"
	Message   string `json:"message"`    // error
}

type resultLine struct {
	Status string `json:"status"` // "success" or "error"
	Error  *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
	Stats struct {
		InputTokens  int64 `json:"input_tokens"` // prompt tokens, cached included
		OutputTokens int64 `json:"output_tokens"`
		Cached       int64 `json:"cached"`
	} `json:"stats"`
}

// looksLikeResult spots a result line that failed to parse, so that a
// broken final state is an error rather than an ignored log line.
var looksLikeResult = regexp.MustCompile(`^\s*\{.*"type"\s*:\s*"result"`)

// parser interprets stdout lines as they arrive (see cli.Parser).
type parser struct {
	run     cli.Call
	session string
	turn    strings.Builder // assistant text since the last tool call
	errors  []string        // messages of error lines, for the error message
	result  *resultLine
	bad     string // the first protocol violation
}

// Result is what the CLI reported: the result line's stats are this
// process's usage.
func (p *parser) Result() agentorg.Result {
	return agentorg.Result{SessionID: p.session, Summary: p.summary(), Usage: p.usage()}
}

func (p *parser) Line(line []byte) {
	if len(line) == 0 || line[0] != '{' {
		return // a log line: it is in the transcript already
	}
	var ev event
	if err := json.Unmarshal(line, &ev); err != nil {
		if looksLikeResult.Match(line) {
			p.violation(fmt.Sprintf("malformed result line: %v", err))
		}
		return
	}
	switch ev.Type {
	case "init":
		if ev.SessionID != "" {
			p.session = ev.SessionID
		}
	case "message":
		if ev.Role == "assistant" {
			p.turn.WriteString(ev.Content)
		}
	case "tool_use":
		// The final turn is what the model said after its last tool call.
		p.turn.Reset()
	case "error":
		if ev.Message != "" && len(p.errors) < 10 {
			p.errors = append(p.errors, ev.Message)
		}
	case "result":
		var r resultLine
		if err := json.Unmarshal(line, &r); err != nil {
			p.violation(fmt.Sprintf("malformed result line: %v", err))
			return
		}
		if p.result != nil {
			p.violation("more than one result line")
			return
		}
		p.result = &r
	}
}

func (p *parser) violation(msg string) {
	if p.bad == "" {
		p.bad = msg
	}
}

func (p *parser) summary() string { return strings.TrimSpace(p.turn.String()) }

func (p *parser) usage() agentorg.Usage {
	if p.result == nil {
		return agentorg.Usage{}
	}
	s := p.result.Stats
	return agentorg.Usage{InputTokens: s.InputTokens, CachedTokens: s.Cached, OutputTokens: s.OutputTokens}
}

// failure says what went wrong in an error result: its message, or the
// error lines printed before it.
func (p *parser) failure() string {
	var parts []string
	if r := p.result; r != nil && r.Error != nil && r.Error.Message != "" {
		msg := r.Error.Message
		if r.Error.Type != "" {
			msg = r.Error.Type + ": " + msg
		}
		parts = append(parts, msg)
	}
	for _, e := range p.errors {
		if len(parts) == 0 || !strings.Contains(parts[0], e) {
			parts = append(parts, e)
		}
	}
	if len(parts) == 0 {
		return "(no message)"
	}
	return strings.Join(parts, "; ")
}
