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

// PerRequest is the usage the model server of a Real rig or Bench reports
// on every answer.
var PerRequest = modelserver.Usage{InputTokens: 1200, CachedInputTokens: 200, OutputTokens: 34}

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
func (c Real) Rig(t *testing.T) Rig { return &realRig{Bench: c.Bench(t)} }

// Bench is a real CLI set up for an adapter's own tests: the scripted
// model server, a fresh git repository, and an environment built from
// scratch around a fresh home.
type Bench struct {
	Real
	Bin    string
	Server *modelserver.Server
	Dir    string
	Env    []string
}

// Home is the CLI's home.
func (b *Bench) Home() string {
	home, _ := cli.Getenv(b.Env, "HOME")
	return home
}

// Bench sets the CLI up with a server playing steps. It skips the test
// when the CLI is not installed, and fails it under CI=true.
func (c Real) Bench(t *testing.T, steps ...modelserver.Step) *Bench {
	bin := clitest.Find(t, c.CLI)
	srv := modelserver.New(modelserver.Script{Steps: steps, Usage: PerRequest})
	t.Cleanup(srv.Close)
	home := clitest.NewHome(t)
	return &Bench{Real: c, Bin: bin, Server: srv, Dir: clitest.GitRepo(t),
		Env: home.Env(bin, c.Env(t, home, srv.URL())...)}
}

// Agent is the adapter with c's settings, the CLI's binary and a three
// minute bound unless c says otherwise.
func (b *Bench) Agent(c cli.Config) agentorg.Agent {
	if c.Binary == "" {
		c.Binary = b.Bin
	}
	if c.Timeout == 0 {
		c.Timeout = 3 * time.Minute
	}
	return b.New(c, b.Server.URL())
}

// Task is a developer's task in the repository, with a transcript.
func (b *Bench) Task(prompt string, access agentorg.Access) (agentorg.Task, *bytes.Buffer) {
	var tr bytes.Buffer
	return agentorg.Task{Role: "developer", Issue: 7, Attempt: 1, Dir: b.Dir, Prompt: prompt,
		Access: access, Env: append([]string(nil), b.Env...), Transcript: &tr}, &tr
}

type realRig struct {
	*Bench
	steps    []modelserver.Step
	turn     Turn
	marker   string // the current turn's, in its prompt
	previous string // the turn's before
	mark     int    // the server's requests before the current turn
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
	r.Server.SetScript(modelserver.Script{Steps: r.steps, Usage: PerRequest})
	r.turn, r.mark = turn, len(r.Server.Requests())
	task, _ := r.Bench.Task("Issue #7: do as you are told ("+r.marker+")", agentorg.ReadWrite)
	return task
}

// Last reads the run from the server's requests since the turn began: a
// successful turn is charged PerRequest for each request the CLI counts.
func (r *realRig) Last(t *testing.T) Seen {
	reqs := r.Server.Requests()[r.mark:]
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
		seen.Usage = agentorg.Usage{InputTokens: n * PerRequest.InputTokens,
			CachedTokens: n * PerRequest.CachedInputTokens, OutputTokens: n * PerRequest.OutputTokens}
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
