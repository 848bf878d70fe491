// Package command runs any executable as an agent, speaking the JSON-lines
// protocol described in docs/agent-protocol.md: the prompt on stdin, the
// AGENTORG_* variables in the environment, progress, usage and one result
// line on stdout.
package command

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli"
)

// Names of the variables the agent receives on top of Task.Env.
const (
	EnvRole    = "AGENTORG_ROLE"
	EnvIssue   = "AGENTORG_ISSUE"
	EnvAttempt = "AGENTORG_ATTEMPT"
	EnvAccess  = "AGENTORG_ACCESS"
	EnvSession = "AGENTORG_SESSION"
	// EnvInput names a JSON file holding the task's structured inputs
	// (agentorg.Task.Input); empty when the task has none.
	EnvInput = "AGENTORG_INPUT"
)

// MaxLineBytes caps one stdout line kept for parsing. Longer lines still
// reach the transcript but are dropped by the parser, so a runaway tool
// cannot make agentorg hold its whole output in memory.
const MaxLineBytes = 8 << 20

// Config says how to run the agent.
type Config struct {
	Command      []string      // argv
	Timeout      time.Duration // default when Task.Timeout is 0
	StallTimeout time.Duration // default when Task.StallTimeout is 0
}

// Agent runs Config.Command once per Start or Resume.
type Agent struct {
	cfg     Config
	maxLine int // MaxLineBytes; smaller in tests
}

var _ agentorg.Agent = (*Agent)(nil)

// New returns an agent that runs c.Command.
func New(c Config) *Agent {
	c.Command = append([]string(nil), c.Command...)
	return &Agent{cfg: c, maxLine: MaxLineBytes}
}

// Start begins a new session.
func (a *Agent) Start(ctx context.Context, t agentorg.Task) (agentorg.Result, error) {
	return a.run(ctx, "", t)
}

// Resume continues session with a new prompt. If the agent reports a
// different session id, that one is returned: the caller keeps the newest.
func (a *Agent) Resume(ctx context.Context, session string, t agentorg.Task) (agentorg.Result, error) {
	if session == "" {
		return agentorg.Result{}, errors.New("command agent: resume needs a session id")
	}
	return a.run(ctx, session, t)
}

func (a *Agent) run(ctx context.Context, session string, t agentorg.Task) (agentorg.Result, error) {
	if len(a.cfg.Command) == 0 {
		return agentorg.Result{}, errors.New("command agent: no command configured")
	}
	// An empty Dir would run the agent in agentorg's own directory.
	if t.Dir == "" {
		return agentorg.Result{}, errors.New("command agent: task has no directory")
	}
	access := t.Access
	if access == "" {
		access = agentorg.ReadOnly
	}

	input, cleanup, err := inputFile(t.Input)
	if err != nil {
		return agentorg.Result{}, err
	}
	defer cleanup()

	p := newParser()
	res, err := cli.Run(ctx, t, cli.Spec{
		Name:         "command",
		Argv:         a.cfg.Command,
		Dir:          t.Dir,
		Env:          agentEnv(t, access, session, input),
		Stdin:        strings.NewReader(t.Prompt),
		Line:         p.handle,
		MaxLine:      a.maxLine,
		Timeout:      a.cfg.Timeout,
		StallTimeout: a.cfg.StallTimeout,
		// The user's caches, as every CLI's: a program installs a
		// package's dependencies as a coding CLI would.
		State: cli.CacheState,
	})
	if err != nil {
		return agentorg.Result{}, err
	}

	out := agentorg.Result{SessionID: session, Usage: p.usage}
	if p.result != nil {
		out.Usage = out.Usage.Add(p.result.Usage)
		out.Summary = p.result.Summary
		if p.result.SessionID != "" {
			out.SessionID = p.result.SessionID
		}
	}
	if err := res.Stopped(); err != nil {
		return out, err
	}

	switch {
	case res.ExitCode != 0:
		msg := res.ExitStatus()
		if p.result != nil && p.result.IsError {
			msg += " (agent reported an error: " + p.result.message() + ")"
		}
		return out, res.Fail(msg)
	case p.bad != "":
		return out, res.Fail(p.bad)
	case p.result == nil:
		return out, res.Fail("no result line" + res.DroppedNote())
	case p.result.IsError:
		return out, res.FailNoTail("agent reported an error: " + p.result.message())
	case out.SessionID == "":
		return out, res.FailNoTail("result line has no session_id")
	}
	return out, nil
}

// inputFile writes a task's structured input to a file of its own, readable
// by the agent, removed after the run; "" when there is none.
func inputFile(input []byte) (path string, cleanup func(), err error) {
	if input == nil {
		return "", func() {}, nil
	}
	dir, err := os.MkdirTemp("", "agentorg-input-")
	if err != nil {
		return "", nil, fmt.Errorf("command agent: input file: %w", err)
	}
	path = filepath.Join(dir, "input.json")
	if err := os.WriteFile(path, input, 0o644); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("command agent: input file: %w", err)
	}
	return path, func() { os.RemoveAll(dir) }, nil
}

// agentEnv is Task.Env with the AGENTORG_* variables set by us, replacing
// any the caller passed so the agent cannot be told a different role.
func agentEnv(t agentorg.Task, access agentorg.Access, session, input string) []string {
	ours := map[string]string{
		EnvRole:    t.Role,
		EnvIssue:   strconv.FormatInt(t.Issue, 10),
		EnvAttempt: strconv.Itoa(t.Attempt),
		EnvAccess:  string(access),
		EnvSession: session,
		EnvInput:   input,
	}
	env := make([]string, 0, len(t.Env)+len(ours))
	for _, kv := range t.Env {
		k, _, _ := strings.Cut(kv, "=")
		if _, dup := ours[k]; !dup {
			env = append(env, kv)
		}
	}
	for _, k := range []string{EnvRole, EnvIssue, EnvAttempt, EnvAccess, EnvSession, EnvInput} {
		env = append(env, k+"="+ours[k])
	}
	return env
}
