// Package opencode drives OpenCode (tested with 1.18.33) headless as an
// agentorg agent:
//
//	opencode run --format json --dir DIR [-m PROVIDER/MODEL] [--session ses_…] [Args...] < prompt
//
// The prompt goes on stdin: `opencode run` reads a piped stdin whole and,
// with no message arguments, sends it as the message unchanged (message
// arguments would be joined with spaces and quoted). It is never an
// argument, so a huge prompt is no problem.
//
// --format json prints one JSON object per line, each with the sessionID:
// step_start, tool_use, text, reasoning, step_finish {reason, tokens, cost}
// and error. There is no result line: a run succeeded when the CLI exited 0,
// printed no error line, and its last step finished with reason "stop".
// Result.Summary is the text of that last step; Usage is summed over steps:
// InputTokens = input + cache.read + cache.write (OpenCode reports input
// without the cached part), CachedTokens = cache.read, OutputTokens = output
// + reasoning, CostUSD = cost (0 unless the provider's models declare
// prices).
//
// Access: with ReadWrite, OpenCode's defaults apply (edits and bash allowed
// inside the project; anything outside asks, and `run` auto-rejects every
// question). With ReadOnly, the adapter adds
// {"permission":{"edit":"deny","bash":"deny"}} to the environment's
// OPENCODE_CONFIG_CONTENT, merged into whatever config the workflow put
// there; that config is loaded after the global and project files, so it
// wins. "edit" covers OpenCode's write, edit and patch tools; the config's
// permissions are merged into every agent's, subagents included. Denied
// tools are not even declared to the model (observed: glob, grep, read,
// skill, task, todowrite and webfetch remain).
//
// The adapter adds OPENCODE_DISABLE_AUTOUPDATE=1 to the environment unless
// the workflow set it: an agent run must not upgrade its own binary.
//
// Sessions: Resume passes the ses_… id to --session. OpenCode keeps working
// in the session's original directory, so callers must resume a session in
// the worktree it was started in (agentorg keeps one per issue).
//
// # Pointing OpenCode at another model endpoint
//
// Put a provider in the OpenCode config of the home the workflow gives the
// agent ($XDG_CONFIG_HOME/opencode/opencode.json, or a file named by
// OPENCODE_CONFIG, or the JSON itself in OPENCODE_CONFIG_CONTENT), and set
// Config.Model to "<provider>/<model>". Any OpenAI-compatible Chat
// Completions server works through the bundled @ai-sdk/openai-compatible
// package (no npm install happens at run time):
//
//	{"provider": {"scripted": {
//	    "npm": "@ai-sdk/openai-compatible",
//	    "name": "Scripted model",
//	    "options": {"baseURL": "http://127.0.0.1:PORT/v1", "apiKey": "{env:SCRIPTED_API_KEY}"},
//	    "models": {"scripted-model": {"name": "Scripted model", "tool_call": true}}}}}
//	Config.Model: "scripted/scripted-model"
//
// A local Ollama is the same with its OpenAI-compatible endpoint:
//
//	{"provider": {"ollama": {
//	    "npm": "@ai-sdk/openai-compatible",
//	    "name": "Ollama",
//	    "options": {"baseURL": "http://127.0.0.1:11434/v1"},
//	    "models": {"qwen2.5-coder:7b": {"name": "Qwen 2.5 Coder", "tool_call": true}}}}}
//	Config.Model: "ollama/qwen2.5-coder:7b"
//
// Add OPENCODE_DISABLE_MODELS_FETCH=1 to Task.Env to keep OpenCode from
// fetching its model catalogue from the internet.
package opencode

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli"
)

// readOnlyPermission is the OpenCode permission config of ReadOnly runs.
var readOnlyPermission = map[string]any{"edit": "deny", "bash": "deny"}

// Config says how to run OpenCode: Model is passed as -m provider/model ("" =
// the config's "model").
type Config = cli.Config

// Agent runs `opencode run` once per Start or Resume.
type Agent = cli.Agent

// New returns an agent running OpenCode as c says.
func New(c Config) *Agent { return cli.New(tool(c)) }

func tool(c Config) cli.Tool {
	return cli.Tool{
		Name:        "opencode",
		Config:      c,
		Args:        func(r cli.Call) []string { return argv(c, r.Dir, r.Session) },
		Env:         func(r cli.Call) ([]string, error) { return agentEnv(r.Task.Env, r.Access) },
		NeedsPrompt: true,
		Session:     checkSession,
		Parse:       func(r cli.Call) cli.Parser { return &parser{run: r} },
		Probe:       probeSpec,
		Facts: cli.Facts{
			Usage:           cli.PerRun,
			ResumeInSameDir: true,
			// The XDG defaults, and npm's cache: with a network, OpenCode
			// installs its config directory's dependencies.
			State: []string{"$XDG_CONFIG_HOME/opencode/", "~/.config/opencode/", "$XDG_DATA_HOME/opencode/", "~/.local/share/opencode/",
				"$XDG_STATE_HOME/opencode/", "~/.local/state/opencode/", "~/.npm/"},
		},
	}
}

var sessionID = regexp.MustCompile(`^ses_[0-9A-Za-z]+$`)

// checkSession accepts an OpenCode session id (ses_…); the session must
// belong to the task's directory.
func checkSession(session string, _ cli.Call) error {
	if !sessionID.MatchString(session) {
		return fmt.Errorf("%q is not an OpenCode session id (ses_…)", session)
	}
	return nil
}

// argv is the command line for one run, after the executable; the prompt is
// not part of it.
func argv(c Config, dir, session string) []string {
	argv := []string{"run", "--format", "json", "--dir", dir}
	if c.Model != "" {
		argv = append(argv, "-m", c.Model)
	}
	if session != "" {
		argv = append(argv, "--session", session)
	}
	return append(argv, c.Args...)
}

// agentEnv is what the adapter sets on top of Task.Env: no self-update
// (unless the workflow decided), and the read-only permissions for ReadOnly
// runs, merged into the workflow's OPENCODE_CONFIG_CONTENT.
func agentEnv(env []string, access agentorg.Access) ([]string, error) {
	var out []string
	if _, ok := cli.Getenv(env, "OPENCODE_DISABLE_AUTOUPDATE"); !ok {
		out = append(out, "OPENCODE_DISABLE_AUTOUPDATE=1")
	}
	if access == agentorg.ReadWrite {
		return out, nil
	}
	cfg := map[string]any{}
	if s, ok := cli.Getenv(env, "OPENCODE_CONFIG_CONTENT"); ok && strings.TrimSpace(s) != "" {
		if err := json.Unmarshal([]byte(s), &cfg); err != nil {
			return nil, fmt.Errorf("OPENCODE_CONFIG_CONTENT is not a JSON object, so the read-only permissions cannot be added to it: %w", err)
		}
	}
	perm, _ := cfg["permission"].(map[string]any)
	if perm == nil {
		perm = map[string]any{}
	}
	for k, v := range readOnlyPermission {
		perm[k] = v
	}
	cfg["permission"] = perm
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return append(out, "OPENCODE_CONFIG_CONTENT="+string(data)), nil
}

// Check tells a failed run from a good one by its exit status, its error
// lines and how its last step finished.
func (p *parser) Check(res *cli.Outcome, out *agentorg.Result) error {
	switch {
	case res.ExitCode != 0:
		msg := res.ExitStatus()
		if s := p.run.Session; s != "" && strings.Contains(res.Stderr, "Session not found") {
			msg += fmt.Sprintf(" (session %s not found: OpenCode keeps sessions in its data directory, $XDG_DATA_HOME/opencode; resume with the same home)", s)
		}
		if len(p.errors) > 0 {
			msg += " (agent reported an error: " + strings.Join(p.errors, "; ") + ")"
		}
		return res.Fail(msg)
	case len(p.errors) > 0:
		return res.Fail("agent reported an error: " + strings.Join(p.errors, "; "))
	case p.bad != "":
		return res.Fail(p.bad)
	case p.finish == "":
		return res.Fail("no step_finish line" + res.DroppedNote())
	case p.finish != "stop":
		return res.Fail(fmt.Sprintf("the last step finished with reason %q, not \"stop\"", p.finish))
	case out.SessionID == "":
		return res.Fail("no sessionID in the output")
	}
	return nil
}

// flagsUsed are the options of `opencode run --help` this adapter relies on.
var flagsUsed = []string{"--format", "json", "--session", "--model", "--dir"}

// probeSpec checks that the CLI is there and knows the flags used.
var probeSpec = cli.ProbeSpec{
	Help:         []string{"run", "--help"},
	HelpOnStderr: true, // yargs may print help on either stream
	Flags:        flagsUsed,
	Lacks:        "opencode %s: `opencode run` does not support %s",
	Name:         "OpenCode",
	Package:      "opencode-ai",
	Tested:       "1.18.33", // as pinned in .ci/install-clis
}
