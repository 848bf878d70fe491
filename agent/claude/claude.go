// Package claude drives Anthropic's Claude Code CLI headless (`claude -p
// --output-format stream-json`) as an agentorg.Agent.
//
// A read-write run (Task.Access ReadWrite) is
//
//	claude -p --output-format stream-json --verbose --permission-mode acceptEdits \
//	  [--model MODEL] [--max-turns N] [ARGS...] [--resume SESSION_ID]
//
// and a read-only run replaces the permission mode with
//
//	--disallowedTools Write,Edit,NotebookEdit --permission-mode dontAsk
//
// which removes the file-writing tools and denies anything else that would
// need a permission (a writing shell command), while reads and read-only
// commands still run. bypassPermissions is never used: it is refused as
// root and would let a read-only role write.
//
// acceptEdits runs file edits in Task.Dir and read-only or filesystem shell
// commands (git status, ls, echo > file), but denies any other command (go,
// make, npm) in -p mode: such a denial is noted in the summary, since the
// edits stand and validation runs the checks anyway, while a denied file
// write fails a read-write run (below). A workflow whose developer should run
// such commands allows them in Config.Args, e.g.
// []string{"--allowedTools", "Bash(go *)"}. Claude Code's own sandbox is off,
// so an allowed command runs with agentorg's rights.
//
// Claude Code ends a run whose tool calls were denied with exit 0 and
// subtype "success"; for a read-write run this package turns a denied
// Write, Edit, MultiEdit or NotebookEdit in permission_denials into ErrAgent
// naming the tools. A read-only run is
// denied writes by design, so its denials are not errors.
//
// The prompt goes on stdin (`-p` without a prompt argument reads it), the
// process runs in Task.Dir with exactly Task.Env.
//
// # Pointing Claude Code at another endpoint
//
// Claude Code takes its endpoint and key from the environment, so the
// workflow sets them in Task.Env (ANTHROPIC_BASE_URL has no /v1; the key is
// sent as x-api-key):
//
//	task.Env = append(task.Env,
//		"ANTHROPIC_BASE_URL=http://127.0.0.1:8080",
//		"ANTHROPIC_API_KEY=...",
//		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", // no telemetry or update checks
//	)
//	claude.New(claude.Config{Model: "claude-sonnet-4-5"}) // or "" for the tool's default
//
// Any other flag (--append-system-prompt, --settings, --mcp-config) goes in
// Config.Args.
//
// # Usage
//
// The result line's token counts are this process's own, but total_cost_usd
// includes the earlier runs of a resumed session, so CostUSD is that total
// minus Task.SessionUsage.CostUSD. InputTokens counts every input token
// (input_tokens plus both cache fields); CachedTokens is
// cache_read_input_tokens.
package claude

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli"
)

// MaxLineBytes caps one stdout line kept for parsing. Longer lines still
// reach the transcript but are dropped by the parser.
const MaxLineBytes = 8 << 20

// readOnlyDenied are the tools a read-only run does not get at all.
const readOnlyDenied = "Write,Edit,NotebookEdit"

// Config says how to run Claude Code.
type Config struct {
	Binary       string        // executable name or path; default "claude"
	Model        string        // --model; "" = the tool's default
	Args         []string      // extra arguments the workflow adds
	Timeout      time.Duration // default when Task.Timeout is 0
	StallTimeout time.Duration // default when Task.StallTimeout is 0
	MaxTurns     int           // --max-turns; 0 = unset
}

// Agent runs `claude -p` once per Start or Resume.
type Agent struct {
	cfg     Config
	maxLine int // MaxLineBytes; smaller in tests
}

var (
	_ agentorg.Agent  = (*Agent)(nil)
	_ agentorg.Prober = (*Agent)(nil)
)

// New returns an agent that runs Claude Code as c says.
func New(c Config) *Agent {
	if c.Binary == "" {
		c.Binary = "claude"
	}
	c.Args = append([]string(nil), c.Args...)
	return &Agent{cfg: c, maxLine: MaxLineBytes}
}

// Start begins a new session.
func (a *Agent) Start(ctx context.Context, t agentorg.Task) (agentorg.Result, error) {
	return a.run(ctx, "", t)
}

// Resume continues session with a new prompt. If Claude Code reports a
// different session id, that one is returned: the caller keeps the newest.
func (a *Agent) Resume(ctx context.Context, session string, t agentorg.Task) (agentorg.Result, error) {
	if session == "" {
		return agentorg.Result{}, errors.New("claude agent: resume needs a session id")
	}
	if strings.HasPrefix(session, "-") || strings.ContainsAny(session, " \t\n") {
		return agentorg.Result{}, fmt.Errorf("claude agent: invalid session id %q", session)
	}
	return a.run(ctx, session, t)
}

// argv is the command line for one run, without the executable. The
// variadic --disallowedTools comes first, followed by a flag, so that it
// cannot swallow the arguments after it.
func (a *Agent) argv(session string, access agentorg.Access) []string {
	args := []string{"-p"}
	if access == agentorg.ReadWrite {
		args = append(args, "--permission-mode", "acceptEdits")
	} else {
		args = append(args, "--disallowedTools", readOnlyDenied, "--permission-mode", "dontAsk")
	}
	args = append(args, "--output-format", "stream-json", "--verbose")
	if a.cfg.Model != "" {
		args = append(args, "--model", a.cfg.Model)
	}
	if a.cfg.MaxTurns > 0 {
		args = append(args, "--max-turns", strconv.Itoa(a.cfg.MaxTurns))
	}
	args = append(args, a.cfg.Args...)
	if session != "" {
		args = append(args, "--resume", session)
	}
	return args
}

func (a *Agent) run(ctx context.Context, session string, t agentorg.Task) (agentorg.Result, error) {
	// An empty Dir would run the agent in agentorg's own directory.
	if t.Dir == "" {
		return agentorg.Result{}, errors.New("claude agent: task has no directory")
	}
	bin, err := cli.LookPath(a.cfg.Binary, t.Env)
	if err != nil {
		return agentorg.Result{}, fmt.Errorf("claude agent: %w", err)
	}

	p := newParser()
	res, err := cli.Run(ctx, t, cli.Spec{
		Name:         "claude",
		Tool:         "claude",
		Argv:         append([]string{bin}, a.argv(session, t.Access)...),
		Dir:          t.Dir,
		Env:          t.Env,
		Stdin:        strings.NewReader(t.Prompt),
		Line:         p.handle,
		MaxLine:      a.maxLine,
		Timeout:      a.cfg.Timeout,
		StallTimeout: a.cfg.StallTimeout,
	})
	if err != nil {
		return agentorg.Result{}, err
	}

	out := agentorg.Result{SessionID: session, Summary: p.lastText}
	if p.session != "" {
		out.SessionID = p.session
	}
	r := p.result
	if r != nil {
		if r.Result != "" {
			out.Summary = r.Result
		}
		out.Usage = r.usage(t.SessionUsage)
	}
	if err := res.Stopped(); err != nil {
		return out, err
	}

	switch {
	case r != nil && r.failed():
		msg := r.message()
		if res.ExitCode != 0 {
			msg = fmt.Sprintf("%s (exit status %d)", msg, res.ExitCode)
		}
		return out, res.Fail(msg)
	case res.ExitCode != 0:
		return out, res.Fail(res.ExitStatus())
	case r == nil:
		return out, res.Fail("no result line" + res.DroppedNote())
	case out.SessionID == "":
		return out, res.FailNoTail("result line has no session_id")
	case t.Access == agentorg.ReadWrite && r.deniedWrites():
		// Claude Code ends such a run "success" with exit 0: a read-write
		// run whose writes were refused has not done its job.
		return out, res.FailNoTail("permission denied for " + r.deniedTools())
	}
	// A read-only run's summary may be the answer itself (the PM's plan):
	// denials there are by design and not worth a note.
	if t.Access == agentorg.ReadWrite && len(r.Denials) > 0 {
		out.Summary += "\n\n(Claude Code denied: " + r.deniedTools() + ")"
	}
	return out, nil
}
