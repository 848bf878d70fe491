package codex

import (
	"encoding/json"
	"regexp"
	"strings"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli"
)

// event is one line of `codex exec --json` (codex-rs/exec/src/exec_events.rs):
// thread.started, turn.started, turn.completed, turn.failed, item.started,
// item.updated, item.completed, error.
type event struct {
	Type     string `json:"type"`
	ThreadID string `json:"thread_id"`
	Message  string `json:"message"` // error
	Error    *struct {
		Message string `json:"message"`
	} `json:"error"` // turn.failed
	Usage *struct {
		InputTokens       int64 `json:"input_tokens"`
		CachedInputTokens int64 `json:"cached_input_tokens"`
		OutputTokens      int64 `json:"output_tokens"`
	} `json:"usage"` // turn.completed
	Item *item `json:"item"` // item.*
}

type item struct {
	Type    string `json:"type"`
	Text    string `json:"text"`    // agent_message
	Message string `json:"message"` // error
	Status  string `json:"status"`  // file_change, command_execution
	Command string `json:"command"` // command_execution
	Output  string `json:"aggregated_output"`
	Changes []struct {
		Path string `json:"path"`
		Kind string `json:"kind"`
	} `json:"changes"` // file_change
}

// parser interprets stdout lines as they arrive (see cli.Parser).
type parser struct {
	run       cli.Call
	thread    string          // from thread.started
	summary   string          // the newest agent_message
	usage     *agentorg.Usage // the thread's total, from the last turn.completed
	failed    string          // turn.failed's message
	lastError string          // the newest error event or error item
	refused   []string        // writes the sandbox refused
}

// Result is what Codex reported: the usage is the thread's total.
func (p *parser) Result() agentorg.Result {
	res := agentorg.Result{SessionID: p.thread, Summary: p.summary}
	if p.usage != nil {
		res.Usage = *p.usage
	}
	return res
}

func (p *parser) Line(line []byte) {
	if len(line) == 0 || line[0] != '{' {
		return // a log line: it is in the transcript already
	}
	var e event
	if json.Unmarshal(line, &e) != nil {
		return // malformed: in the transcript; a missing turn.completed is caught later
	}
	switch e.Type {
	case "thread.started":
		if e.ThreadID != "" {
			p.thread = e.ThreadID
		}
	case "turn.completed":
		u := agentorg.Usage{}
		if e.Usage != nil {
			u = agentorg.Usage{InputTokens: e.Usage.InputTokens,
				CachedTokens: e.Usage.CachedInputTokens, OutputTokens: e.Usage.OutputTokens}
		}
		p.usage = &u
	case "turn.failed":
		msg := "(no message)"
		if e.Error != nil && e.Error.Message != "" {
			msg = e.Error.Message
		}
		p.failed = msg
	case "error":
		// Codex also reports errors it retries past, so an error event is
		// fatal only if no turn.completed follows.
		if e.Message != "" {
			p.lastError = e.Message
		}
	case "item.completed":
		if e.Item != nil {
			p.item(e.Item)
		}
	}
}

func (p *parser) item(it *item) {
	switch it.Type {
	case "agent_message":
		p.summary = it.Text
	case "error":
		if it.Message != "" {
			p.lastError = it.Message
		}
	case "command_execution":
		if it.Status == "declined" {
			p.refused = append(p.refused, "command declined: "+it.Command)
		}
	}
}

// routerRejection is how Codex 0.169 reports a tool call its sandbox policy
// refused: not as an item on stdout (there is none) but as a log line on
// stderr, e.g.
//
//	2026-11-25T15:44:32.340781Z ERROR codex_core::tools::router: error=patch rejected: writing outside of the project; rejected by user approval settings
//
// while the model gets the same text as the tool's output and carries on.
var routerRejection = regexp.MustCompile(`ERROR codex_core::tools::router: error=(.*rejected.*)`)

// rejections returns the refusals logged in stderr.
func rejections(stderr string) []string {
	var out []string
	for _, m := range routerRejection.FindAllStringSubmatch(stderr, -1) {
		out = append(out, strings.TrimSpace(m[1]))
	}
	return out
}
