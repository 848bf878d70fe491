package command

import (
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/agentorg/agentorg"
)

// resultLine is the final line of a run.
type resultLine struct {
	SessionID string         `json:"session_id"`
	Summary   string         `json:"summary"`
	IsError   bool           `json:"is_error"`
	Error     string         `json:"error"`
	Usage     agentorg.Usage `json:"usage"`
}

func (r *resultLine) message() string {
	switch {
	case r.Error != "":
		return r.Error
	case r.Summary != "":
		return r.Summary
	}
	return "(no message)"
}

// looksLikeResult spots a result line that failed to parse, so that a
// broken final answer is an error rather than a silently ignored log line.
var looksLikeResult = regexp.MustCompile(`^\s*\{.*"type"\s*:\s*"result"`)

// parser interprets stdout lines as they arrive. Its handle is called by one
// goroutine (proc's stdout copier) and read after Run returns, so it needs no
// lock.
type parser struct {
	usage  agentorg.Usage
	result *resultLine
	bad    string // the first protocol violation
}

func newParser() *parser { return &parser{} }

func (p *parser) handle(line []byte) {
	if len(line) == 0 || line[0] != '{' {
		return // a log line: it is in the transcript already
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(line, &head); err != nil {
		if looksLikeResult.Match(line) {
			p.violation(fmt.Sprintf("malformed result line: %v", err))
		}
		return
	}
	switch head.Type {
	case "usage":
		var u agentorg.Usage
		// Usage is advisory: a broken usage line is ignored like a log line.
		if json.Unmarshal(line, &u) == nil {
			p.usage = p.usage.Add(u)
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
	// "message" and unknown types need nothing beyond the transcript.
}

func (p *parser) violation(msg string) {
	if p.bad == "" {
		p.bad = msg
	}
}
