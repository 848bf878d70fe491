// Package codex drives OpenAI's Codex CLI headless (`codex exec --json`) as
// an agentorg.Agent.
//
// Start runs
//
//	codex exec --json --skip-git-repo-check --disable plugins -c analytics.enabled=false \
//	  -c sandbox_mode="workspace-write" [-m MODEL] [ARGS...] -
//
// and Resume the same but ending in `resume THREAD_ID -` (every flag stays
// before `resume`; the real CLI applies them to the resumed run). The prompt goes on stdin ("-"), the process runs in Task.Dir
// (`exec resume` rejects -C and -s, so the directory is the working
// directory and the sandbox is a config override), with exactly Task.Env.
// Task.Access ReadWrite maps to the workspace-write sandbox, ReadOnly to
// read-only. `--disable plugins -c analytics.enabled=false` stop Codex
// calling github.com and chatgpt.com on every run.
//
// # Refused writes
//
// Codex exits 0 when its sandbox refuses a write, and the model carries on.
// Codex 0.169 shows a refused patch (apply_patch outside the writable roots,
// or any patch under read-only) only as a stderr log line, "ERROR
// codex_core::tools::router: error=patch rejected: …", with no item on
// stdout; a read-write run with such a line (or a command_execution item
// "declined") fails with ErrAgent. Keep Codex's default log level (no
// RUST_LOG=off in Task.Env) or refusals go unseen. A shell command the
// sandbox stops (a write outside the workspace: "Read-only file system")
// shows on neither stream, so it cannot be caught here. workspace-write
// also lets Codex write /tmp and $TMPDIR.
//
// # Pointing Codex at another endpoint
//
// Codex needs no config file: the workflow declares a provider with -c
// overrides in Config.Args and puts its key in Task.Env under the name the
// provider's env_key gives. For an OpenAI Responses-compatible server at
// http://127.0.0.1:8080 (base_url must end in /v1; Codex POSTs to
// {base_url}/responses):
//
//	codex.New(codex.Config{
//		Model: "gpt-5.5", // a slug Codex knows, so that it declares apply_patch
//		Args: []string{
//			"-c", `model_providers.local={name="local",base_url="http://127.0.0.1:8080/v1",wire_api="responses",env_key="LOCAL_API_KEY"}`,
//			"-c", "model_provider=local",
//		},
//	})
//	task.Env = append(task.Env, "LOCAL_API_KEY=...", "CODEX_HOME=/path/to/codex-home")
//
// The provider keys request_max_retries, stream_max_retries and
// stream_idle_timeout_ms bound how long Codex retries a failing endpoint.
//
// # Usage
//
// Codex reports the thread's running total in turn.completed, so Result.Usage
// is that total minus Task.SessionUsage: this run's share alone.
package codex

import (
	"fmt"
	"strings"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli"
)

// Config says how to run Codex: Model is passed as -m, Args come before
// the prompt.
type Config = cli.Config

// Agent runs `codex exec` once per Start or Resume.
type Agent = cli.Agent

// New returns an agent that runs Codex as c says.
func New(c Config) *Agent { return cli.New(tool(c)) }

func tool(c Config) cli.Tool {
	return cli.Tool{
		Name:    "codex",
		Config:  c,
		Args:    func(r cli.Call) []string { return argv(c, r.Session, sandboxMode(r.Task)) },
		Session: func(id string, _ cli.Call) error { return cli.CheckID(id, "thread id") },
		Parse:   func(r cli.Call) cli.Parser { return &parser{run: r} },
		Probe:   probeSpec,
		Facts: cli.Facts{
			Usage: cli.SessionTotal,
			State: []string{"$CODEX_HOME/", "~/.codex/"}, // CODEX_HOME, else its default
		},
	}
}

// sandboxMode is the Codex sandbox mode for a task: anything but an explicit
// ReadWrite is read-only. A task agentorg confines runs with Codex's own
// sandbox off: its bwrap needs to mount, which a confined process may not,
// and agentorg's confinement is the one that holds (read-only included).
func sandboxMode(t agentorg.Task) string {
	switch {
	case t.Confine != nil:
		return "danger-full-access"
	case t.Access == agentorg.ReadWrite:
		return "workspace-write"
	}
	return "read-only"
}

// argv is the command line for one run, without the executable. Every flag
// comes before `resume`, which accepts neither -s nor -C: the sandbox is a
// config override that both forms understand.
func argv(c Config, session, sandbox string) []string {
	args := []string{"exec", "--json", "--skip-git-repo-check",
		"--disable", "plugins", "-c", "analytics.enabled=false",
		"-c", fmt.Sprintf("sandbox_mode=%q", sandbox)}
	if c.Model != "" {
		args = append(args, "-m", c.Model)
	}
	args = append(args, c.Args...)
	if session != "" {
		args = append(args, "resume", session)
	}
	return append(args, "-") // the prompt is on stdin
}

// Check tells a failed run from a good one by the events Codex printed.
func (p *parser) Check(res *cli.Outcome, _ *agentorg.Result) error {
	switch {
	case p.failed != "":
		msg := "turn failed: " + p.failed
		if res.ExitCode != 0 {
			msg = fmt.Sprintf("%s (exit status %d)", msg, res.ExitCode)
		}
		return res.Fail(msg)
	case res.ExitCode != 0:
		msg := res.ExitStatus()
		if p.lastError != "" {
			msg += " (codex reported: " + p.lastError + ")"
		}
		return res.Fail(msg)
	case p.thread == "" && p.run.Session == "":
		return res.Fail("no thread.started event" + res.DroppedNote())
	case p.usage == nil:
		msg := "no turn.completed event"
		if p.lastError != "" {
			msg += " (codex reported: " + p.lastError + ")"
		}
		return res.Fail(msg + res.DroppedNote())
	}
	// Codex exits 0 and the model carries on when the sandbox refuses a
	// write: a read-write run that could not write has not done its job.
	// (A read-only run is refused writes by design.) The stderr tail is
	// what is kept; Codex logs little else there.
	if p.run.Access == agentorg.ReadWrite {
		if refused := append(p.refused, rejections(res.Stderr)...); len(refused) > 0 {
			return res.FailNoTail("the sandbox refused: " + strings.Join(refused, "; "))
		}
	}
	return nil
}
