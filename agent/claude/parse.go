package claude

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli"
)

// line is the part of a stream-json line this package reads: system/init
// {session_id}, assistant/user {message}, and the final result.
type line struct {
	Type      string `json:"type"`
	Subtype   string `json:"subtype"`
	SessionID string `json:"session_id"`
	Message   *struct {
		Content []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"content"`
	} `json:"message"` // assistant, user
}

// resultLine is `{"type":"result",...}`, the last line of a run.
type resultLine struct {
	Subtype   string   `json:"subtype"` // success, error_max_turns, error_during_execution, ...
	IsError   bool     `json:"is_error"`
	Result    string   `json:"result"`
	Errors    []string `json:"errors"`
	SessionID string   `json:"session_id"`
	Usage     struct {
		InputTokens              int64 `json:"input_tokens"`
		CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
		CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
		OutputTokens             int64 `json:"output_tokens"`
	} `json:"usage"`
	TotalCostUSD float64 `json:"total_cost_usd"`
	Denials      []struct {
		ToolName string `json:"tool_name"`
	} `json:"permission_denials"`
}

func (r *resultLine) failed() bool {
	return r.IsError || (r.Subtype != "" && r.Subtype != "success")
}

func (r *resultLine) message() string {
	var parts []string
	if r.Subtype != "" && r.Subtype != "success" {
		parts = append(parts, r.Subtype)
	}
	if r.Result != "" {
		parts = append(parts, r.Result)
	}
	parts = append(parts, r.Errors...)
	if len(parts) == 0 {
		return "error result (no message)"
	}
	return "error result: " + strings.Join(parts, ": ")
}

// usage is the result's usage: token counts are this process's, the cost is
// the session's running total.
func (r *resultLine) usage() agentorg.Usage {
	u := r.Usage
	return agentorg.Usage{
		InputTokens:  u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens,
		CachedTokens: u.CacheReadInputTokens,
		OutputTokens: u.OutputTokens,
		CostUSD:      r.TotalCostUSD,
	}
}

// writeTools are Claude Code's file-writing tools. A read-write run whose
// writes were denied has not done its job; a denied shell command (acceptEdits
// denies `go test`) has not stopped the edits, and validation runs the
// checks anyway.
var writeTools = map[string]bool{"Write": true, "Edit": true, "MultiEdit": true, "NotebookEdit": true}

// deniedWrites reports whether a file-writing tool was denied.
func (r *resultLine) deniedWrites() bool {
	for _, d := range r.Denials {
		if writeTools[d.ToolName] {
			return true
		}
	}
	return false
}

// deniedTools names the denied tools with their counts, e.g. "Write (2), Bash".
func (r *resultLine) deniedTools() string {
	n := map[string]int{}
	for _, d := range r.Denials {
		name := d.ToolName
		if name == "" {
			name = "(unnamed tool)"
		}
		n[name]++
	}
	names := make([]string, 0, len(n))
	for name := range n {
		names = append(names, name)
	}
	sort.Strings(names)
	for i, name := range names {
		if n[name] > 1 {
			names[i] = fmt.Sprintf("%s (%d)", name, n[name])
		}
	}
	return strings.Join(names, ", ")
}

// parser interprets stdout lines as they arrive (see cli.Parser).
type parser struct {
	run      cli.Call
	session  string // the newest session id seen
	lastText string // the newest assistant text, for when there is no result
	result   *resultLine
}

// Result is what Claude Code reported: the result line's, else the newest
// session id and assistant text.
func (p *parser) Result() agentorg.Result {
	res := agentorg.Result{SessionID: p.session, Summary: p.lastText}
	if r := p.result; r != nil {
		if r.Result != "" {
			res.Summary = r.Result
		}
		res.Usage = r.usage()
	}
	return res
}

func (p *parser) Line(b []byte) {
	if len(b) == 0 || b[0] != '{' {
		return // a log line: it is in the transcript already
	}
	var l line
	if json.Unmarshal(b, &l) != nil {
		return // malformed: in the transcript; a missing result is caught later
	}
	if l.SessionID != "" {
		p.session = l.SessionID
	}
	switch l.Type {
	case "assistant":
		if l.Message != nil {
			var text []string
			for _, c := range l.Message.Content {
				if c.Type == "text" && strings.TrimSpace(c.Text) != "" {
					text = append(text, c.Text)
				}
			}
			if len(text) > 0 {
				p.lastText = strings.Join(text, "\n")
			}
		}
	case "result":
		var r resultLine
		if json.Unmarshal(b, &r) != nil {
			return // treated like any malformed line
		}
		p.result = &r
	}
}
