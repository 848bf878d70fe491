package command

import (
	"bytes"
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

// parser splits stdout into lines as it arrives and interprets them. It is
// written to by one goroutine (proc's stdout copier) and read after Run
// returns, so it needs no lock.
type parser struct {
	max     int
	line    []byte
	over    bool // the current line passed max; the rest of it is skipped
	dropped int  // lines skipped for length

	usage  agentorg.Usage
	result *resultLine
	bad    string // the first protocol violation
}

func newParser(max int) *parser { return &parser{max: max} }

func (p *parser) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		chunk := b
		if i >= 0 {
			chunk = b[:i]
		}
		if !p.over {
			if len(p.line)+len(chunk) > p.max {
				p.over = true
				p.line = nil
			} else {
				p.line = append(p.line, chunk...)
			}
		}
		if i < 0 {
			break
		}
		p.endLine()
		b = b[i+1:]
	}
	return n, nil
}

func (p *parser) flush() {
	if len(p.line) > 0 || p.over {
		p.endLine()
	}
}

func (p *parser) endLine() {
	if p.over {
		p.dropped++
	} else {
		p.handle(bytes.TrimSpace(p.line))
	}
	p.over = false
	// Do not keep a huge buffer alive after one long line.
	if cap(p.line) > 64<<10 {
		p.line = nil
	} else {
		p.line = p.line[:0]
	}
}

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
