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
	"fmt"
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
type Agent = cli.Agent

// New returns an agent running aider as c says.
func New(c Config) *Agent { return cli.New(tool(c)) }

func tool(c Config) cli.Tool {
	return cli.Tool{
		Name:        "aider",
		Config:      c,
		Args:        func(r cli.Call) []string { return argv(c, r) },
		Prompt:      literalPrompt,
		PromptFile:  true,
		NeedsPrompt: true,
		Session:     checkSession,
		Before:      func(ctx context.Context, r cli.Call) error { return excludeFromCommits(ctx, r.Dir) },
		Parse:       newParser,
		Probe:       probeSpec,
		Facts: cli.Facts{
			Usage:           cli.PerRun,
			ResumeInSameDir: true,
			State:           []string{"~/.aider/"}, // from aider's source, unobserved
		},
		TailOfBoth: true, // aider prints its errors on stdout
	}
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

// checkSession accepts only the id of the conversation kept in the task's
// directory: a resume replays that directory's chat history.
func checkSession(session string, r cli.Call) error {
	want, err := SessionID(r.Dir)
	if err != nil {
		return err
	}
	if session != want {
		return fmt.Errorf("session %q is not the conversation kept in %s (%s): aider resumes only from the chat history of the directory it ran in", session, r.Task.Dir, want)
	}
	return nil
}

// argv is the command line for one run, after the executable.
func argv(c Config, r cli.Call) []string {
	argv := []string{
		"--message-file", r.PromptFile,
		"--yes-always",
		"--no-auto-commits", "--no-dirty-commits", "--no-gitignore",
		"--no-pretty", "--no-fancy-input",
		"--no-check-update", "--no-show-model-warnings", "--no-detect-urls", "--analytics-disable",
		"--chat-history-file", filepath.Join(r.Dir, ChatHistoryFile),
		"--input-history-file", filepath.Join(r.Dir, InputHistoryFile),
	}
	if r.Access != agentorg.ReadWrite {
		argv = append(argv, "--chat-mode", "ask", "--no-suggest-shell-commands")
	}
	if r.Session != "" {
		argv = append(argv, "--restore-chat-history")
	}
	if c.Model != "" {
		argv = append(argv, "--model", c.Model)
	}
	return append(argv, c.Args...)
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

// parser reads what a run appended to the chat history file (see parse.go
// for why not stdout, which only goes to the transcript).
type parser struct {
	run     cli.Call
	history string // the chat history file
	offset  int64  // its size before the run
	h       *history
}

func newParser(r cli.Call) cli.Parser {
	p := &parser{run: r, history: filepath.Join(r.Dir, ChatHistoryFile)}
	if fi, err := os.Stat(p.history); err == nil {
		p.offset = fi.Size()
	}
	return p
}

func (p *parser) Line([]byte) {}

// Result is what this run logged: the model's last reply and the usage
// reports, under the directory's synthetic session id.
func (p *parser) Result() agentorg.Result {
	h := parseHistory(readFrom(p.history, p.offset))
	p.h = &h
	id, _ := SessionID(p.run.Dir) // Dir is absolute: no error
	return agentorg.Result{SessionID: id, Usage: h.usage, Summary: h.reply}
}

// Check fails a run that exited badly or logged no model reply.
func (p *parser) Check(res *cli.Outcome, _ *agentorg.Result) error {
	switch {
	case res.ExitCode != 0:
		return res.Fail(res.ExitStatus())
	case p.h.reports == 0:
		return res.Fail("no usage report (\"Tokens: ...\"): no model reply completed (aider exits 0 when the model API fails)")
	}
	return nil
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

// probeSpec checks that aider is there and knows the flags used.
var probeSpec = cli.ProbeSpec{
	Help:         []string{"--help"},
	HelpOnStderr: true,
	Flags:        flagsUsed,
	Version:      func(line string) string { return strings.TrimPrefix(line, "aider ") },
	Lacks:        "aider %s does not support %s",
	Install:      "install aider: python -m pip install aider-install && aider-install (see aider.chat)",
	Upgrade:      "upgrade aider: aider --upgrade",
}
