// Package aider drives Aider (aider-chat, checked against its source at
// 0.86) as an agentorg agent. Aider is a Python tool that this project
// cannot install, so the adapter is tested against a fake that prints and
// writes what aider's source says it does; no real run has been observed.
//
//	aider --message-file F --yes-always --no-auto-commits --no-dirty-commits --no-gitignore
//	      --no-pretty --no-fancy-input --no-check-update --no-show-model-warnings
//	      --no-detect-urls --analytics-disable
//	      --chat-history-file DIR/.aider.chat.history.md --input-history-file DIR/.aider.input.history
//	      [--chat-mode ask --no-suggest-shell-commands] [--restore-chat-history] [--model M] [Args...]
//
// The prompt is written to a private temporary file outside the worktree and
// passed with --message-file (aider processes that one message and exits), so
// it is never an argument. stdin is closed. aider runs a message that starts
// with "/" or "!" as an in-chat command, so such a prompt is sent after a
// newline. agentorg commits, so aider must
// not (--no-auto-commits, --no-dirty-commits), and --yes-always answers
// aider's confirmations, since nobody is there to.
//
// Access: ReadOnly runs in aider's "ask" chat mode, which answers without
// editing files, and without suggesting shell commands (which --yes-always
// would run). ReadWrite uses the model's default edit format.
//
// What aider cannot do, and what the adapter does instead:
//
//   - No machine-readable output and no session id. Result.SessionID is a
//     synthetic id, "aider-" and a hash of the task directory: stable for a
//     worktree, so the same worktree always resumes the same conversation.
//   - No resume by id. The conversation lives in the chat history file in
//     the worktree (aider's default name, .aider.chat.history.md); Resume
//     adds --restore-chat-history, which replays that file into the new
//     chat. Resume therefore works only in the directory the session began
//     in, and refuses an id made for another directory. Before each run the
//     adapter lists aider's files in the repository's info/exclude, so that
//     they never enter a commit; --no-gitignore keeps aider from editing the
//     repository's .gitignore.
//   - No exit status for model failures: aider prints an API error, retries,
//     and gives up with exit 0. It prints a usage report ("Tokens: ... sent,
//     ... received.") after every successful model reply, so a run that
//     exits 0 without one is an ErrAgent, with aider's last output.
//   - Usage only as aider prints it: "Tokens: 12k sent, 1.2k cache write,
//     3.4k cache hit, 567 received. Cost: $0.01 message, $0.05 session."
//     (base_coder.calculate_and_show_tokens_and_cost). Counts are rounded to
//     aider's precision (1.2k is read as 1200, 12k as 12000); "sent" becomes
//     InputTokens, "cache hit" CachedTokens, "received" OutputTokens, and the
//     "message" costs are summed into CostUSD (no Cost part unless aider
//     knows the model's prices). Reports of all replies in the run are
//     summed.
//   - Usage and Result.Summary are read from what the run appended to the
//     chat history file, not from stdout, which aider's console wraps at 80
//     columns without a terminal. The summary is the model's last reply as
//     aider logged it (aider's own notices, the "> " lines, left out).
//   - stdout is plain text: it goes to the transcript only.
//
// # Pointing aider at another model endpoint
//
// Aider talks to models through litellm. For an OpenAI-compatible server:
//
//	Task.Env: OPENAI_API_BASE=http://127.0.0.1:PORT/v1 OPENAI_API_KEY=<key>
//	Config.Model: "openai/<model>"
//
// For a local Ollama:
//
//	Task.Env: OLLAMA_API_BASE=http://127.0.0.1:11434
//	Config.Model: "ollama_chat/qwen2.5-coder:7b"
//
// Aider also reads a .env file and .aider.conf.yml from the repository root
// and the home directory; the workflow's home should hold neither secrets
// nor surprises.
package aider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli"
)

// The files aider keeps in the worktree (its default names).
const (
	ChatHistoryFile  = ".aider.chat.history.md"
	InputHistoryFile = ".aider.input.history"
)

// Config says how to run aider: Model is passed as --model.
type Config = cli.Config

// Agent runs aider once per Start or Resume.
type Agent struct {
	cfg Config
}

var (
	_ agentorg.Agent  = (*Agent)(nil)
	_ agentorg.Prober = (*Agent)(nil)
)

// New returns an agent running aider as c says.
func New(c Config) *Agent {
	c = c.WithDefaults("aider")
	return &Agent{cfg: c}
}

// SessionID is the synthetic session id of the conversation kept in dir.
func SessionID(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(filepath.Clean(abs)))
	return "aider-" + hex.EncodeToString(sum[:8]), nil
}

// Start begins a new conversation (the history file is appended to, not
// replayed).
func (a *Agent) Start(ctx context.Context, t agentorg.Task) (agentorg.Result, error) {
	return a.run(ctx, false, t)
}

// Resume continues the conversation kept in t.Dir; session must be the id
// Start returned there.
func (a *Agent) Resume(ctx context.Context, session string, t agentorg.Task) (agentorg.Result, error) {
	if t.Dir == "" {
		return agentorg.Result{}, errors.New("aider agent: task has no directory")
	}
	want, err := SessionID(t.Dir)
	if err != nil {
		return agentorg.Result{}, fmt.Errorf("aider agent: %w", err)
	}
	if session != want {
		return agentorg.Result{}, fmt.Errorf("aider agent: session %q is not the conversation kept in %s (%s): aider resumes only from the chat history of the directory it ran in", session, t.Dir, want)
	}
	return a.run(ctx, true, t)
}

// argv is the command line for one run.
func (a *Agent) argv(bin, dir, messageFile string, resume bool, access agentorg.Access) []string {
	argv := []string{bin,
		"--message-file", messageFile,
		"--yes-always",
		"--no-auto-commits", "--no-dirty-commits", "--no-gitignore",
		"--no-pretty", "--no-fancy-input",
		"--no-check-update", "--no-show-model-warnings", "--no-detect-urls", "--analytics-disable",
		"--chat-history-file", filepath.Join(dir, ChatHistoryFile),
		"--input-history-file", filepath.Join(dir, InputHistoryFile),
	}
	if access != agentorg.ReadWrite {
		argv = append(argv, "--chat-mode", "ask", "--no-suggest-shell-commands")
	}
	if resume {
		argv = append(argv, "--restore-chat-history")
	}
	if a.cfg.Model != "" {
		argv = append(argv, "--model", a.cfg.Model)
	}
	return append(argv, a.cfg.Args...)
}

func (a *Agent) run(ctx context.Context, resume bool, t agentorg.Task) (agentorg.Result, error) {
	if t.Dir == "" {
		return agentorg.Result{}, errors.New("aider agent: task has no directory")
	}
	if strings.TrimSpace(t.Prompt) == "" {
		return agentorg.Result{}, errors.New("aider agent: empty prompt")
	}
	dir, err := filepath.Abs(t.Dir)
	if err != nil {
		return agentorg.Result{}, fmt.Errorf("aider agent: %w", err)
	}
	session, err := SessionID(dir)
	if err != nil {
		return agentorg.Result{}, fmt.Errorf("aider agent: %w", err)
	}
	access := t.Access
	if access == "" {
		access = agentorg.ReadOnly
	}
	bin, err := cli.LookPath(a.cfg.Binary, t.Env)
	if err != nil {
		return agentorg.Result{}, fmt.Errorf("aider agent: %w", err)
	}
	if err := excludeFromCommits(ctx, dir); err != nil {
		return agentorg.Result{}, err
	}
	msgFile, err := writeMessageFile(literalPrompt(t.Prompt))
	if err != nil {
		return agentorg.Result{}, fmt.Errorf("aider agent: %w", err)
	}
	defer os.Remove(msgFile)

	// Usage and summary are read from what this run adds to the chat
	// history file (see parse.go for why not from stdout).
	history := filepath.Join(dir, ChatHistoryFile)
	var offset int64
	if fi, err := os.Stat(history); err == nil {
		offset = fi.Size()
	}

	res, err := cli.Run(ctx, t, cli.Spec{
		Name:         "aider",
		Tool:         "aider",
		Argv:         a.argv(bin, dir, msgFile, resume, access),
		Dir:          dir,
		Env:          t.Env,
		Timeout:      a.cfg.Timeout,
		StallTimeout: a.cfg.StallTimeout,
		TailOfBoth:   true, // aider prints its errors on stdout
	})
	if err != nil {
		return agentorg.Result{}, err
	}
	h := parseHistory(readFrom(history, offset))
	out := agentorg.Result{SessionID: session, Usage: h.usage, Summary: h.reply}
	if err := res.Stopped(); err != nil {
		return out, err
	}

	switch {
	case res.ExitCode != 0:
		return out, res.Fail(res.ExitStatus())
	case h.reports == 0:
		return out, res.Fail("no usage report (\"Tokens: ...\"): no model reply completed (aider exits 0 when the model API fails)")
	}
	return out, nil
}

// literalPrompt keeps a prompt that starts with "/" or "!" from being run as
// one of aider's in-chat commands ("!" runs a shell command): a leading
// newline makes it plain text to aider and changes nothing for the model.
func literalPrompt(p string) string {
	if strings.HasPrefix(p, "/") || strings.HasPrefix(p, "!") {
		return "\n" + p
	}
	return p
}

// writeMessageFile puts the prompt in a private temporary file, outside the
// worktree so that it is neither edited nor committed.
func writeMessageFile(prompt string) (string, error) {
	f, err := os.CreateTemp("", "agentorg-aider-message-*.md")
	if err != nil {
		return "", err
	}
	if _, err := io.WriteString(f, prompt); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// readFrom returns what was appended to path after offset; at most the last
// 4 MiB of it, as only the last reply is wanted.
func readFrom(path string, offset int64) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() <= offset {
		return nil
	}
	const max = 4 << 20
	if fi.Size()-offset > max {
		offset = fi.Size() - max
	}
	data := make([]byte, fi.Size()-offset)
	n, _ := f.ReadAt(data, offset)
	return data[:n]
}

// flagsUsed are the options of `aider --help` this adapter relies on.
var flagsUsed = []string{"--message-file", "--yes-always", "--auto-commits", "--dirty-commits", "--gitignore",
	"--pretty", "--fancy-input", "--check-update", "--show-model-warnings", "--detect-urls", "--analytics-disable",
	"--chat-history-file", "--input-history-file", "--restore-chat-history", "--chat-mode", "--suggest-shell-commands"}

// Probe checks that aider is there and knows the flags used.
func (a *Agent) Probe(ctx context.Context, env []string) agentorg.Probe {
	return cli.Probe(ctx, env, a.probeSpec())
}

// Locate finds the executable without running it (see cli.Locate).
func (a *Agent) Locate(env []string) agentorg.Probe { return cli.Locate(env, a.probeSpec()) }

func (a *Agent) probeSpec() cli.ProbeSpec {
	return cli.ProbeSpec{
		Binary:       a.cfg.Binary,
		Help:         []string{"--help"},
		HelpOnStderr: true,
		Flags:        flagsUsed,
		Version:      func(line string) string { return strings.TrimPrefix(line, "aider ") },
		Lacks:        "aider %s does not support %s",
		Install:      "install aider: python -m pip install aider-install && aider-install (see aider.chat)",
		Upgrade:      "upgrade aider: aider --upgrade",
	}
}
