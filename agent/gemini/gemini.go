// Package gemini drives Google's Gemini CLI (tested with 0.61.0) headless as
// an agentorg agent:
//
//	gemini -p "" --output-format stream-json --skip-trust --approval-mode MODE [-m MODEL] [--resume ID] [Args...] < prompt
//
// The prompt goes on stdin: with -p the CLI reads a piped stdin and puts it
// before the -p text, which is empty here, so the prompt arrives intact
// without ever being an argument. The CLI truncates stdin at 8 MiB, so a
// larger prompt is refused before the run.
//
// Access picks the approval mode. Headless, the CLI asks nobody: a tool that
// would need approval is not even declared to the model. ReadOnly runs in
// the default mode, where write_file, replace and run_shell_command are
// absent. ReadWrite runs in yolo mode rather than auto_edit, because
// auto_edit declares no shell tool at all and a developer that cannot run
// the build and the tests iterates blind; Codex's workspace-write sandbox
// and Claude Code's acceptEdits mode let the shell run too. The run
// stays bounded by what agentorg controls: its worktree, an environment
// without tracker tokens, and the timeouts.
//
// --skip-trust trusts the task directory for the run: it is agentorg's own
// worktree, and an untrusted directory makes the headless CLI exit 55.
//
// A prompt that starts with "/" would be run as a slash command, and one
// that starts with "/" or "?" would be left out of the history a resume
// restores, so such a prompt is sent after the line "Prompt:". "@path"
// mentions in the prompt are the CLI's own feature: it inlines those files
// of the workspace (a mention that names no file stays text).
//
// Exit codes: 41 authentication, 42 bad input (also a resume from another
// directory), 52 configuration, 53 turn limit, 54 fatal tool error, 55
// untrusted workspace; a model API error exits with its HTTP status modulo
// 256 (400 gives 144) after an error result line.
//
// Sessions: the init line's session_id is Result.SessionID, and Resume
// passes it to --resume. The CLI keeps sessions per project directory and
// resumes one only from the directory it was created in (elsewhere it exits
// 42, "No previous sessions found for this project"); callers must therefore
// keep one stable worktree per issue, as agentorg's workspace does.
//
// Usage comes from the result line's stats, which cover this process only
// (the router call included), so Task.SessionUsage is not subtracted.
//
// # Pointing the CLI at another model endpoint
//
// The workflow builds Task.Env and the HOME it names. For any server that
// speaks the Gemini API (generateContent and streamGenerateContent?alt=sse):
//
//	mkdir -p $HOME/.gemini
//	echo '{"security":{"auth":{"selectedType":"gemini-api-key"}}}' > $HOME/.gemini/settings.json
//	Task.Env: HOME=$HOME GEMINI_API_KEY=<key> GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:PORT
//	          GEMINI_CLI_TRUST_WORKSPACE=true
//
// GOOGLE_GEMINI_BASE_URL has no /v1beta; the key travels as x-goog-api-key.
// GEMINI_CLI_TRUST_WORKSPACE=true is what --skip-trust sets anyway; keeping
// it in the environment also covers subcommands. Set Config.Model (for
// example gemini-2.5-flash) to skip the CLI's model router, whose extra
// request the endpoint would otherwise have to answer with its JSON schema.
package gemini

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli"
)

// MaxPromptBytes is the most the CLI reads from stdin; it silently truncates
// beyond it, so longer prompts are refused.
const MaxPromptBytes = 8 << 20

// Exit codes of the CLI (packages/core FatalError subclasses).
const (
	exitAuth      = 41
	exitInput     = 42 // includes "No previous sessions found for this project"
	exitConfig    = 52
	exitTurnLimit = 53
	exitToolError = 54
	exitUntrusted = 55
)

// Config says how to run the Gemini CLI: Model is passed as -m ("" lets its
// router pick).
type Config = cli.Config

// Agent runs the Gemini CLI once per Start or Resume.
type Agent = cli.Agent

// New returns an agent running the Gemini CLI as c says.
func New(c Config) *Agent { return cli.New(tool(c)) }

func tool(c Config) cli.Tool {
	return cli.Tool{
		Name:        "gemini",
		Config:      c,
		Args:        func(r cli.Call) []string { return argv(c, r.Session, r.Access) },
		Prompt:      literalPrompt,
		NeedsPrompt: true,
		MaxPrompt:   MaxPromptBytes,
		Session:     checkSession,
		Parse:       func(r cli.Call) cli.Parser { return &parser{run: r} },
		Probe:       probeSpec,
		Facts: cli.Facts{
			Usage:           cli.PerRun,
			ResumeInSameDir: true,
			State:           []string{"~/.gemini/"},
		},
	}
}

// sessionID is what the CLI prints as session_id (a UUID). "latest" and bare
// numbers mean other sessions to --resume, and a leading dash would be a
// flag, so anything else is refused.
var sessionID = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z_-]*$`)

// checkSession accepts a session id of the CLI's; it must have been created
// in the task's directory.
func checkSession(session string, _ cli.Call) error {
	switch {
	case session == "":
		return fmt.Errorf("resume needs a session id")
	case !sessionID.MatchString(session) || session == "latest" || strings.Trim(session, "0123456789") == "":
		return fmt.Errorf("%q is not a Gemini CLI session id", session)
	}
	return nil
}

// approvalMode maps the task's access to the CLI's approval mode (see the
// package comment for why ReadWrite is yolo).
func approvalMode(access agentorg.Access) string {
	if access == agentorg.ReadWrite {
		return "yolo"
	}
	return "default"
}

// argv is the command line for one run, after the executable; the prompt is
// not part of it.
func argv(c Config, session string, access agentorg.Access) []string {
	argv := []string{"-p", "", "--output-format", "stream-json", "--skip-trust",
		"--approval-mode", approvalMode(access)}
	if c.Model != "" {
		argv = append(argv, "-m", c.Model)
	}
	if session != "" {
		argv = append(argv, "--resume", session)
	}
	return append(argv, c.Args...)
}

// Check tells a failed run from a good one by its exit status and result
// line.
func (p *parser) Check(res *cli.Outcome, out *agentorg.Result) error {
	switch {
	case res.ExitCode != 0:
		return res.Fail(p.exitMessage(res))
	case p.bad != "":
		return res.Fail(p.bad)
	case p.result == nil:
		return res.Fail("no result line" + res.DroppedNote())
	case p.result.Status != "success":
		return res.Fail(fmt.Sprintf("result status %q: %s", p.result.Status, p.failure()))
	case out.SessionID == "":
		return res.Fail("no init line with a session_id")
	}
	return nil
}

// promptPrefix goes before a prompt the CLI would not treat as plain text
// (see literalPrompt).
const promptPrefix = "Prompt:\n"

// literalPrompt keeps the CLI from treating the prompt as anything but text.
// Headless input that starts with "/" is run as a slash command, and on
// resume the CLI drops earlier user messages that start, once trimmed, with
// "/", "?", "<session_context>" or "<hook_context>" (isIgnoredUserContent),
// so the model would lose that prompt. Such a prompt gets promptPrefix.
func literalPrompt(p string) string {
	t := strings.TrimSpace(p)
	for _, s := range []string{"/", "?", "<session_context>", "<hook_context>"} {
		if strings.HasPrefix(t, s) {
			return promptPrefix + p
		}
	}
	return p
}

// exitMessage explains a non-zero exit, with what the CLI said about it.
func (p *parser) exitMessage(res *cli.Outcome) string {
	msg := res.ExitStatus()
	switch code, session := res.ExitCode, p.run.Session; {
	case code == exitInput && session != "" && strings.Contains(res.Stderr, "Error resuming session"):
		msg += fmt.Sprintf(" (session %s cannot be resumed from %s: the Gemini CLI resumes a session only from the directory it was created in)", session, p.run.Task.Dir)
	case code == exitAuth:
		msg += " (authentication failed: check GEMINI_API_KEY and the auth type in settings.json)"
	case code == exitUntrusted:
		msg += " (untrusted workspace)"
	case code == exitTurnLimit:
		msg += " (turn limit reached)"
	case code == exitToolError:
		msg += " (fatal tool error)"
	case code == exitConfig:
		msg += " (configuration error)"
	}
	if p.result != nil && p.result.Status != "success" {
		msg += " (agent reported an error: " + p.failure() + ")"
	}
	return msg
}
