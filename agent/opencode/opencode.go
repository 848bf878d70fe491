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
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli"
)

// MaxLineBytes caps one stdout line kept for parsing; longer lines still
// reach the transcript.
const MaxLineBytes = 8 << 20

// readOnlyPermission is the OpenCode permission config of ReadOnly runs.
var readOnlyPermission = map[string]any{"edit": "deny", "bash": "deny"}

// Config says how to run OpenCode: Model is passed as -m provider/model ("" =
// the config's "model").
type Config = cli.Config

// Agent runs `opencode run` once per Start or Resume.
type Agent struct {
	cfg     Config
	maxLine int // MaxLineBytes; smaller in tests
}

var (
	_ agentorg.Agent  = (*Agent)(nil)
	_ agentorg.Prober = (*Agent)(nil)
)

// New returns an agent running OpenCode as c says.
func New(c Config) *Agent {
	c = c.WithDefaults("opencode")
	return &Agent{cfg: c, maxLine: MaxLineBytes}
}

// Start begins a new session.
func (a *Agent) Start(ctx context.Context, t agentorg.Task) (agentorg.Result, error) {
	return a.run(ctx, "", t)
}

var sessionID = regexp.MustCompile(`^ses_[0-9A-Za-z]+$`)

// Resume continues session (ses_…), which must belong to t.Dir.
func (a *Agent) Resume(ctx context.Context, session string, t agentorg.Task) (agentorg.Result, error) {
	if !sessionID.MatchString(session) {
		return agentorg.Result{}, fmt.Errorf("opencode agent: %q is not an OpenCode session id (ses_…)", session)
	}
	return a.run(ctx, session, t)
}

// argv is the command line for one run; the prompt is not part of it.
func (a *Agent) argv(bin, dir, session string) []string {
	argv := []string{bin, "run", "--format", "json", "--dir", dir}
	if a.cfg.Model != "" {
		argv = append(argv, "-m", a.cfg.Model)
	}
	if session != "" {
		argv = append(argv, "--session", session)
	}
	return append(argv, a.cfg.Args...)
}

// agentEnv is Task.Env plus what the adapter owns: no self-update, and the
// read-only permissions for ReadOnly runs.
func agentEnv(env []string, access agentorg.Access) ([]string, error) {
	out := append([]string(nil), env...)
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
	// Drop the caller's copy: the last one would win, but two are confusing.
	kept := out[:0]
	for _, kv := range out {
		if !strings.HasPrefix(kv, "OPENCODE_CONFIG_CONTENT=") {
			kept = append(kept, kv)
		}
	}
	return append(kept, "OPENCODE_CONFIG_CONTENT="+string(data)), nil
}

func (a *Agent) run(ctx context.Context, session string, t agentorg.Task) (agentorg.Result, error) {
	if t.Dir == "" {
		return agentorg.Result{}, errors.New("opencode agent: task has no directory")
	}
	if strings.TrimSpace(t.Prompt) == "" {
		return agentorg.Result{}, errors.New("opencode agent: empty prompt")
	}
	dir, err := filepath.Abs(t.Dir)
	if err != nil {
		return agentorg.Result{}, fmt.Errorf("opencode agent: %w", err)
	}
	access := t.Access
	if access == "" {
		access = agentorg.ReadOnly
	}
	env, err := agentEnv(t.Env, access)
	if err != nil {
		return agentorg.Result{}, fmt.Errorf("opencode agent: %w", err)
	}
	bin, err := cli.LookPath(a.cfg.Binary, t.Env)
	if err != nil {
		return agentorg.Result{}, fmt.Errorf("opencode agent: %w", err)
	}

	p := newParser()
	res, err := cli.Run(ctx, t, cli.Spec{
		Name:         "opencode",
		Tool:         "opencode",
		Argv:         a.argv(bin, dir, session),
		Dir:          dir,
		Env:          env,
		Stdin:        strings.NewReader(t.Prompt),
		Line:         p.handle,
		MaxLine:      a.maxLine,
		Timeout:      a.cfg.Timeout,
		StallTimeout: a.cfg.StallTimeout,
	})
	if err != nil {
		return agentorg.Result{}, err
	}

	out := agentorg.Result{SessionID: session, Summary: p.summary(), Usage: p.usage}
	if p.session != "" {
		out.SessionID = p.session
	}
	if err := res.Stopped(); err != nil {
		return out, err
	}

	switch {
	case res.ExitCode != 0:
		msg := res.ExitStatus()
		if session != "" && strings.Contains(res.Stderr, "Session not found") {
			msg += fmt.Sprintf(" (session %s not found: OpenCode keeps sessions in its data directory, $XDG_DATA_HOME/opencode; resume with the same home)", session)
		}
		if len(p.errors) > 0 {
			msg += " (agent reported an error: " + strings.Join(p.errors, "; ") + ")"
		}
		return out, res.Fail(msg)
	case len(p.errors) > 0:
		return out, res.Fail("agent reported an error: " + strings.Join(p.errors, "; "))
	case p.bad != "":
		return out, res.Fail(p.bad)
	case p.finish == "":
		return out, res.Fail("no step_finish line" + res.DroppedNote())
	case p.finish != "stop":
		return out, res.Fail(fmt.Sprintf("the last step finished with reason %q, not \"stop\"", p.finish))
	case out.SessionID == "":
		return out, res.Fail("no sessionID in the output")
	}
	return out, nil
}

// flagsUsed are the options of `opencode run --help` this adapter relies on.
var flagsUsed = []string{"--format", "json", "--session", "--model", "--dir"}

// Probe checks that the CLI is there and knows the flags used.
func (a *Agent) Probe(ctx context.Context, env []string) agentorg.Probe {
	return cli.Probe(ctx, env, a.probeSpec())
}

// Locate finds the executable without running it (see cli.Locate).
func (a *Agent) Locate(env []string) agentorg.Probe { return cli.Locate(env, a.probeSpec()) }

func (a *Agent) probeSpec() cli.ProbeSpec {
	return cli.ProbeSpec{
		Binary:       a.cfg.Binary,
		Help:         []string{"run", "--help"},
		HelpOnStderr: true, // yargs may print help on either stream
		Flags:        flagsUsed,
		Lacks:        "opencode %s: `opencode run` does not support %s",
		Install:      "install OpenCode: npm install -g opencode-ai@1.18.33",
		Upgrade:      "upgrade OpenCode: npm install -g opencode-ai@1.18.33",
	}
}
