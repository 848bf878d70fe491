// Package scripted is a stand-in for a model: an executable that speaks the
// agentorg command-agent protocol (docs/agent-protocol.md) and edits files
// for real in its working directory, following a script keyed by role,
// issue, attempt and prompt. Tests and `agentorg demo` use it so that the
// whole organization can run without a model.
package scripted

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/proc"
)

// Environment variables the scripted agent reads besides the AGENTORG_*
// ones the command agent sets.
const (
	// EnvScript names the script when --script is not given.
	EnvScript = "AGENTORG_SCRIPT"
	// EnvState names a directory where each run is appended to
	// <session>.jsonl, so tests can see that a resume continued a session.
	EnvState = "AGENTORG_SCRIPTED_STATE"
)

// Run is one line of a session's state file.
type Run struct {
	Time    time.Time `json:"time"`
	Role    string    `json:"role"`
	Issue   int64     `json:"issue"`
	Attempt int       `json:"attempt"`
	Resumed bool      `json:"resumed"`
	Prompt  string    `json:"prompt"`
	// Input is the task's structured input (the file AGENTORG_INPUT
	// names), when it has one.
	Input json.RawMessage `json:"input,omitempty"`
}

// ReadState returns the runs recorded for session in dir.
func ReadState(dir, session string) ([]Run, error) {
	data, err := os.ReadFile(filepath.Join(dir, session+".jsonl"))
	if err != nil {
		return nil, err
	}
	var runs []Run
	dec := json.NewDecoder(bytes.NewReader(data))
	for dec.More() {
		var r Run
		if err := dec.Decode(&r); err != nil {
			return runs, err
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// Main runs the scripted agent and returns its exit code.
//
// Flags: --script FILE (default $AGENTORG_SCRIPT), --dir DIR, the
// working directory to edit (default: the current one), and --state DIR
// (default $AGENTORG_SCRIPTED_STATE).
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	fl := flag.NewFlagSet("scripted-agent", flag.ContinueOnError)
	fl.SetOutput(stderr)
	scriptPath := fl.String("script", getenv(EnvScript), "script `file` (YAML or JSON)")
	dir := fl.String("dir", ".", "working `directory`")
	state := fl.String("state", getenv(EnvState), "`directory` keeping each session's runs (optional)")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "scripted-agent: "+format+"\n", a...)
		return 2
	}
	if fl.NArg() > 0 {
		return fail("unexpected arguments %q", fl.Args())
	}
	if *scriptPath == "" {
		return fail("no script: pass --script or set %s", EnvScript)
	}
	script, err := LoadScript(*scriptPath)
	if err != nil {
		return fail("script %s: %v", *scriptPath, err)
	}

	a := &agent{out: json.NewEncoder(stdout), stderr: stderr, getenv: getenv, stateDir: *state}
	a.out.SetEscapeHTML(false)
	return a.main(script, *dir, stdin)
}

type agent struct {
	out     *json.Encoder
	stderr  io.Writer
	getenv  func(string) string
	session string
	// stateDir keeps each session's runs, so a resume can prove it
	// continues a conversation that happened.
	stateDir string
}

func (a *agent) emit(v any) {
	// A write error means the reader is gone; there is nobody to tell.
	_ = a.out.Encode(v)
}

func (a *agent) message(format string, args ...any) {
	a.emit(struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}{"message", fmt.Sprintf(format, args...)})
}

// finish prints the usage and result lines. Usage goes on its own line and
// not again in the result, because the caller sums both.
func (a *agent) finish(u agentorg.Usage, summary string, runErr error) {
	a.emit(struct {
		Type string `json:"type"`
		agentorg.Usage
	}{"usage", u})
	r := struct {
		Type      string `json:"type"`
		SessionID string `json:"session_id"`
		Summary   string `json:"summary"`
		IsError   bool   `json:"is_error"`
		Error     string `json:"error"`
	}{Type: "result", SessionID: a.session, Summary: summary}
	if runErr != nil {
		r.IsError, r.Error = true, runErr.Error()
	}
	a.emit(r)
}

var safeSession = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

func (a *agent) main(script *Script, dir string, stdin io.Reader) int {
	prompt, err := io.ReadAll(stdin)
	if err != nil {
		fmt.Fprintf(a.stderr, "scripted-agent: read prompt: %v\n", err)
		return 2
	}
	r := run{role: a.getenv("AGENTORG_ROLE"), prompt: string(prompt)}
	resumed := a.getenv("AGENTORG_SESSION") != ""
	if resumed {
		a.session = a.getenv("AGENTORG_SESSION")
	} else {
		a.session = newSessionID()
	}
	// From here on every failure is reported as a result line, as a model
	// would: the caller then knows the session and can resume it.
	if err := a.parseEnv(&r); err != nil {
		a.finish(agentorg.Usage{}, "", err)
		return 0
	}
	if err := a.record(r, resumed); err != nil {
		a.finish(agentorg.Usage{}, "", err)
		return 0
	}

	step, name := script.pick(r)
	if step == nil {
		a.finish(agentorg.Usage{}, "", fmt.Errorf("no step matches role=%s issue=%d attempt=%d and the script has no default", r.role, r.issue, r.attempt))
		return 0
	}
	a.message("playing %s for %s on issue %d, attempt %d", name, r.role, r.issue, r.attempt)
	err = a.play(step, dir)
	if err == nil && step.Error != "" {
		err = errors.New(step.Error)
	}
	summary := step.Summary
	if err != nil && step.Error == "" {
		summary = "" // the step did not get to its scripted conclusion
	}
	a.finish(step.Usage, summary, err)
	return step.Exit
}

func (a *agent) parseEnv(r *run) error {
	var err error
	if s := a.getenv("AGENTORG_ISSUE"); s != "" {
		if r.issue, err = strconv.ParseInt(s, 10, 64); err != nil {
			return fmt.Errorf("bad AGENTORG_ISSUE %q", s)
		}
	}
	if s := a.getenv("AGENTORG_ATTEMPT"); s != "" {
		if r.attempt, err = strconv.Atoi(s); err != nil {
			return fmt.Errorf("bad AGENTORG_ATTEMPT %q", s)
		}
	}
	// The session names a file in the state directory.
	if !safeSession.MatchString(a.session) {
		return fmt.Errorf("bad session id %q", a.session)
	}
	switch acc := agentorg.Access(a.getenv("AGENTORG_ACCESS")); acc {
	case agentorg.ReadOnly, agentorg.ReadWrite, "":
	default:
		return fmt.Errorf("bad AGENTORG_ACCESS %q", acc)
	}
	return nil
}

// writable reports whether the run may change files. Unset access means
// read-only: the agent must be told it may write.
func (a *agent) writable() bool {
	return agentorg.Access(a.getenv("AGENTORG_ACCESS")) == agentorg.ReadWrite
}

// record appends this run to the session's state file, if state is kept,
// and says on resume how much of the session came before.
func (a *agent) record(r run, resumed bool) error {
	dir := a.stateDir
	if dir == "" {
		if resumed {
			a.message("resumed session %s", a.session)
		}
		return nil
	}
	path := filepath.Join(dir, a.session+".jsonl")
	if resumed {
		earlier, err := ReadState(dir, a.session)
		if errors.Is(err, fs.ErrNotExist) {
			// A real model cannot resume a conversation it never had.
			return fmt.Errorf("unknown session %s", a.session)
		}
		if err != nil {
			return fmt.Errorf("read state: %v", err)
		}
		a.message("resumed session %s (%d earlier runs)", a.session, len(earlier))
	}
	rec := Run{Time: time.Now().UTC(), Role: r.role, Issue: r.issue, Attempt: r.attempt, Resumed: resumed, Prompt: r.prompt}
	if p := a.getenv("AGENTORG_INPUT"); p != "" {
		input, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("input: %v", err)
		}
		if !json.Valid(input) {
			return fmt.Errorf("input %s is not JSON", p)
		}
		rec.Input = input
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("state: %v", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("state: %v", err)
	}
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("state: %v", err)
	}
	return nil
}

func newSessionID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "scripted-" + hex.EncodeToString(b[:])
}

// play performs the step's actions in order, stopping at the first failure.
func (a *agent) play(step *Step, dir string) error {
	// os.Root refuses any path that leaves dir, through ".." or a symlink.
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("working directory: %v", err)
	}
	defer root.Close()
	for _, act := range step.Actions {
		if err := a.do(root, dir, act); err != nil {
			return err
		}
	}
	return nil
}

func (a *agent) do(root *os.Root, dir string, act Action) error {
	if act.Sleep != nil {
		time.Sleep(*act.Sleep)
		return nil
	}
	if act.Shell != nil {
		return a.shell(dir, *act.Shell)
	}
	var op, path string
	switch {
	case act.Write != nil:
		op, path = "write", act.Write.Path
	case act.Append != nil:
		op, path = "append", act.Append.Path
	case act.Edit != nil:
		op, path = "edit", act.Edit.Path
	case act.Delete != nil:
		op, path = "delete", *act.Delete
	}
	if err := checkPath(path); err != nil {
		return fmt.Errorf("%s %s: %v", op, path, err)
	}
	if !a.writable() {
		return fmt.Errorf("%s %s: refused: this run is read-only", op, path)
	}
	path = filepath.Clean(path)
	var err error
	switch op {
	case "write":
		if err = mkParent(root, path); err == nil {
			err = root.WriteFile(path, []byte(act.Write.Content), 0o644)
		}
		if err == nil {
			a.message("wrote %s", path)
		}
	case "append":
		err = appendFile(root, path, act.Append.Content)
		if err == nil {
			a.message("appended to %s", path)
		}
	case "edit":
		err = editFile(root, path, act.Edit.Old, act.Edit.New)
		if err == nil {
			a.message("edited %s", path)
		}
	case "delete":
		if _, err = root.Lstat(path); err == nil {
			err = root.RemoveAll(path)
		}
		if err == nil {
			a.message("deleted %s", path)
		}
	}
	if err != nil {
		return fmt.Errorf("%s %s: %v", op, path, unwrapPath(err))
	}
	return nil
}

// checkPath rejects paths that are not relative and inside the directory,
// before any file is touched; symlinks are caught by os.Root.
func checkPath(p string) error {
	switch {
	case p == "":
		return errors.New("empty path")
	case filepath.IsAbs(p):
		return errors.New("absolute paths are not allowed")
	case !filepath.IsLocal(p):
		return errors.New("path escapes the working directory")
	case filepath.Clean(p) == ".":
		return errors.New("path is the working directory itself")
	}
	return nil
}

// unwrapPath drops the *PathError wrapper, whose path would repeat ours.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func mkParent(root *os.Root, path string) error {
	if d := filepath.Dir(path); d != "." {
		return root.MkdirAll(d, 0o755)
	}
	return nil
}

func appendFile(root *os.Root, path, content string) error {
	if err := mkParent(root, path); err != nil {
		return err
	}
	f, err := root.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func editFile(root *os.Root, path, old, new string) error {
	data, err := root.ReadFile(path)
	if err != nil {
		return err
	}
	if n := strings.Count(string(data), old); n != 1 {
		return fmt.Errorf("%q occurs %d times, want exactly 1", old, n)
	}
	fi, err := root.Stat(path)
	if err != nil {
		return err
	}
	return root.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), fi.Mode().Perm())
}

// shell runs cmd with sh -c in dir. Its output goes to stderr (the
// transcript), not stdout, where it could be mistaken for protocol lines.
func (a *agent) shell(dir, cmd string) error {
	c := exec.Command("/bin/sh", "-c", cmd)
	c.Dir = dir
	// Keep the environment the agent was given, with the AGENTORG_* values
	// Main was told (they differ from os.Environ when Main runs in-process).
	c.Env = os.Environ()
	for _, k := range []string{"AGENTORG_ROLE", "AGENTORG_ISSUE", "AGENTORG_ATTEMPT", "AGENTORG_ACCESS", "AGENTORG_SESSION"} {
		c.Env = append(c.Env, k+"="+a.getenv(k))
	}
	// Streamed, so a long command keeps the caller's stall timer alive.
	tail := &proc.Tail{Max: 2000}
	w := io.MultiWriter(a.stderr, tail)
	c.Stdout, c.Stderr = w, w
	if err := c.Run(); err != nil {
		if t := strings.TrimSpace(tail.String()); t != "" {
			return fmt.Errorf("shell %q: %v: %s", cmd, err, t)
		}
		return fmt.Errorf("shell %q: %v", cmd, err)
	}
	a.message("ran %s", cmd)
	return nil
}
