package agenttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli"
	"github.com/agentorg/agentorg/agent/clitest"
	"github.com/agentorg/agentorg/modelserver"
)

// perRequest is the usage the model server reports on every answer.
var perRequest = modelserver.Usage{InputTokens: 1200, CachedInputTokens: 200, OutputTokens: 34}

// Real is the rig of an adapter run with the real CLI against the scripted
// model server, in a fresh git repository with a fresh home and an
// environment built from scratch. The rig skips when the CLI is not
// installed, and fails under CI=true (clitest.Find).
type Real struct {
	CLI string // the executable's name: "codex"
	// New is the adapter with c's settings, pointed at the server at url.
	New func(c cli.Config, url string) agentorg.Agent
	// Env is what the CLI needs on top of the fresh home's environment to
	// use the server at url; it may write the CLI's configuration in home.
	Env func(t *testing.T, home clitest.Home, url string) []string
	// Counts says whether the CLI counts a request in the usage it reports
	// (some requests are side requests: titles, routers).
	Counts func(r modelserver.Request) bool
	// PricesItself: the CLI reports a cost of its own reckoning.
	PricesItself bool
	// Patience is the stall timeout used; 0 is 5s.
	Patience time.Duration
}

// Rig returns a fresh rig: a server, a repository and a home.
func (c Real) Rig(t *testing.T) Rig {
	bin := clitest.Find(t, c.CLI)
	srv := modelserver.New(modelserver.Script{Usage: perRequest})
	t.Cleanup(srv.Close)
	home := clitest.NewHome(t)
	return &realRig{Real: c, bin: bin, srv: srv, dir: clitest.GitRepo(t),
		env: home.Env(bin, c.Env(t, home, srv.URL())...)}
}

type realRig struct {
	Real
	bin, dir string
	srv      *modelserver.Server
	env      []string
	steps    []modelserver.Step
	turn     Turn
	marker   string // the current turn's, in its prompt
	previous string // the turn's before
	mark     int    // the server's requests before the current turn
}

func (r *realRig) Agent(c cli.Config) agentorg.Agent {
	if c.Binary == "" {
		c.Binary = r.bin
	}
	if c.Timeout == 0 {
		c.Timeout = 3 * time.Minute
	}
	return r.New(c, r.srv.URL())
}

func (r *realRig) Task(t *testing.T, turn Turn) agentorg.Task {
	t.Helper()
	if why := turn.fakeOnly(); why != "" {
		t.Skipf("a real CLI cannot play %s", why)
	}
	r.previous, r.marker = r.marker, fmt.Sprintf("TURN-%d", len(r.steps)+1)
	var actions []modelserver.Action
	for _, w := range turn.Writes {
		actions = append(actions, modelserver.Action{Write: &modelserver.Write{Path: w.Path, Content: w.Content}})
	}
	switch {
	case turn.Error != "":
		actions = append(actions, modelserver.Action{Fail: &modelserver.Fail{Status: 400, Message: turn.Error}})
	case turn.Stall:
		actions = append(actions, modelserver.Action{Stall: true})
	default:
		actions = append(actions, modelserver.Action{Text: turn.Summary})
	}
	r.steps = append(r.steps, modelserver.Step{Match: r.marker, Actions: actions})
	r.srv.SetScript(modelserver.Script{Steps: r.steps, Usage: perRequest})
	r.turn, r.mark = turn, len(r.srv.Requests())
	return agentorg.Task{
		Role: "developer", Issue: 7, Attempt: 1,
		Dir:        r.dir,
		Prompt:     "Issue #7: do as you are told (" + r.marker + ")",
		Access:     agentorg.ReadWrite,
		Env:        append([]string(nil), r.env...),
		Transcript: &bytes.Buffer{},
	}
}

// Last reads the run from the server's requests since the turn began: a
// successful turn is charged perRequest for each request the CLI counts.
func (r *realRig) Last(t *testing.T) Seen {
	reqs := r.srv.Requests()[r.mark:]
	seen := Seen{PricesItself: r.PricesItself, Ran: len(reqs) > 0}
	counted := 0
	for _, q := range reqs {
		if !r.Counts(q) {
			continue
		}
		if counted == 0 && r.previous != "" {
			seen.History = bytes.Contains(q.Body, []byte(r.previous))
		}
		counted++
		if seen.Prompt == "" && carries(q.Body, r.marker) {
			seen.Prompt = fullString(q.Body, r.marker)
		}
	}
	if r.turn.Error == "" && !r.turn.Stall {
		n := int64(counted)
		seen.Usage = agentorg.Usage{InputTokens: n * perRequest.InputTokens,
			CachedTokens: n * perRequest.CachedInputTokens, OutputTokens: n * perRequest.OutputTokens}
	}
	return seen
}

func (r *realRig) Patience() time.Duration {
	if r.Real.Patience > 0 {
		return r.Real.Patience
	}
	return 5 * time.Second
}

func carries(body []byte, marker string) bool { return bytes.Contains(body, []byte(marker)) }

// fullString is the longest string in a JSON body that holds marker: the
// prompt as the CLI sent it, or a text that holds it.
func fullString(body []byte, marker string) string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	best := ""
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			if strings.Contains(v, marker) && len(v) > len(best) {
				best = v
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	return best
}
