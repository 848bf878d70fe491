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
	"fmt"
	"strconv"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli"
)

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
type Agent = cli.Agent

// New returns an agent that runs Claude Code as c says.
func New(c Config) *Agent { return cli.New(tool(c)) }

func tool(c Config) cli.Tool {
	return cli.Tool{
		Name: "claude",
		Config: cli.Config{Binary: c.Binary, Model: c.Model, Args: c.Args,
			Timeout: c.Timeout, StallTimeout: c.StallTimeout},
		Args:  func(r cli.Call) []string { return argv(c, r.Session, r.Access) },
		Parse: func(r cli.Call) cli.Parser { return &parser{run: r} },
		Probe: probeSpec,
		Facts: cli.Facts{
			Usage: cli.CostSessionTotal,
			State: []string{"$CLAUDE_CONFIG_DIR/", "~/.claude/", "~/.claude.json"},
		},
	}
}

// argv is the command line for one run, without the executable. The
// variadic --disallowedTools comes first, followed by a flag, so that it
// cannot swallow the arguments after it.
func argv(c Config, session string, access agentorg.Access) []string {
	args := []string{"-p"}
	if access == agentorg.ReadWrite {
		args = append(args, "--permission-mode", "acceptEdits")
	} else {
		args = append(args, "--disallowedTools", readOnlyDenied, "--permission-mode", "dontAsk")
	}
	args = append(args, "--output-format", "stream-json", "--verbose")
	if c.Model != "" {
		args = append(args, "--model", c.Model)
	}
	if c.MaxTurns > 0 {
		args = append(args, "--max-turns", strconv.Itoa(c.MaxTurns))
	}
	args = append(args, c.Args...)
	if session != "" {
		args = append(args, "--resume", session)
	}
	return args
}

// Check tells a failed run from a good one by its result line.
func (p *parser) Check(res *cli.Outcome, out *agentorg.Result) error {
	r := p.result
	switch {
	case r != nil && r.failed():
		msg := r.message()
		if res.ExitCode != 0 {
			msg = fmt.Sprintf("%s (exit status %d)", msg, res.ExitCode)
		}
		return res.Fail(msg)
	case res.ExitCode != 0:
		return res.Fail(res.ExitStatus())
	case r == nil:
		return res.Fail("no result line" + res.DroppedNote())
	case out.SessionID == "":
		return res.FailNoTail("result line has no session_id")
	case p.run.Access == agentorg.ReadWrite && r.deniedWrites():
		// Claude Code ends such a run "success" with exit 0: a read-write
		// run whose writes were refused has not done its job.
		return res.FailNoTail("permission denied for " + r.deniedTools())
	}
	// A read-only run's summary may be the answer itself (the PM's plan):
	// denials there are by design and not worth a note.
	if p.run.Access == agentorg.ReadWrite && len(r.Denials) > 0 {
		out.Summary += "\n\n(Claude Code denied: " + r.deniedTools() + ")"
	}
	return nil
}
