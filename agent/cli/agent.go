package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/agentorg/agentorg"
)

// Tool is one coding CLI as an Agent runs it: only what differs between
// CLIs. The Agent does everything else the same way for all of them: it
// checks the task, finds the executable in the task's own PATH, runs it in
// the task's directory under the task's bounds (Run), turns a timeout, a
// stall or a cancellation into the same errors, accounts for usage as Facts
// says, and returns the session id and usage the tool reported even when
// the run failed.
type Tool struct {
	// Name names the tool in errors: "codex" gives "codex agent: …" when
	// the run cannot start and "agent failed: codex: …" when it fails.
	Name   string
	Config Config // Binary defaults to Name

	// Args is the command line after the executable.
	Args func(r Call) []string
	// Env lists what the tool sets on top of Task.Env ("K=V", replacing the
	// task's K); nil sets nothing.
	Env func(r Call) ([]string, error)
	// Prompt turns Task.Prompt into what the tool reads, for tools that
	// would take some prompts for commands; nil sends it as it is.
	Prompt func(prompt string) string
	// PromptFile gives the prompt in a private temporary file (Call.PromptFile)
	// instead of on stdin, which is then closed.
	PromptFile bool
	// NeedsPrompt refuses an empty prompt; MaxPrompt refuses one longer
	// than the tool reads (0: no limit).
	NeedsPrompt bool
	MaxPrompt   int
	// Session checks a session id before a resume; nil accepts any
	// non-empty id that cannot be taken for a flag (CheckID).
	Session func(id string, r Call) error
	// Before runs just before the tool starts, after every check.
	Before func(ctx context.Context, r Call) error
	// Parse returns the parser of one run's output.
	Parse func(r Call) Parser

	Probe ProbeSpec // Binary comes from Config
	Facts

	MaxLine    int  // longest stdout line parsed; 0: lines.DefaultMax
	TailOfBoth bool // the tool prints its errors on stdout (see Spec)
}

// Facts are what a tool does that its callers must know.
type Facts struct {
	Usage Totals
	// ResumeInSameDir: the tool resumes a session only in the directory it
	// began in, so callers keep one directory per session.
	ResumeInSameDir bool
	// State declares where the tool keeps its sessions, configuration and
	// caches: all it writes outside the task directory and TMPDIR, which a
	// confined run may write too. "~/x" is under HOME, "$VAR/x" under the
	// variable's value; a trailing "/" marks a directory (sandbox.Paths).
	// The user's caches (CacheState) come on top. The contract suite
	// checks the HOME entries against what the real CLI writes.
	State []string
}

// HomeDirs are State's entries under HOME, relative to it, and the
// caches': what the contract suite allows the tool to write under HOME.
func (f Facts) HomeDirs() []string {
	var out []string
	for _, d := range append(append([]string(nil), f.State...), CacheState...) {
		if rest, ok := strings.CutPrefix(d, "~/"); ok {
			out = append(out, strings.TrimSuffix(rest, "/"))
		}
	}
	return out
}

// Totals says how a tool reports usage.
type Totals int

const (
	// PerRun: every count is this run's own.
	PerRun Totals = iota
	// SessionTotal: every count is the session's running total, from which
	// Task.SessionUsage (the earlier runs) is subtracted.
	SessionTotal
	// CostSessionTotal: tokens are this run's, the cost is the session's
	// running total.
	CostSessionTotal
)

// thisRun is this run's share of u, as the tool reported it.
func (k Totals) thisRun(u, before agentorg.Usage) agentorg.Usage {
	switch k {
	case SessionTotal:
		return u.Sub(before)
	case CostSessionTotal:
		u.CostUSD = max(u.CostUSD-before.CostUSD, 0)
	}
	return u
}

// Call is one run of a tool, as its Tool functions see it.
type Call struct {
	Task       agentorg.Task
	Session    string          // "" on a start, else the session resumed
	Access     agentorg.Access // ReadWrite or ReadOnly: a task with none is read-only
	Dir        string          // Task.Dir, absolute
	PromptFile string          // with Tool.PromptFile, the file holding the prompt
}

// Parser reads the output of one run. Line gets each stdout line as it
// arrives, from one goroutine; once the tool has exited, Result is called,
// then Check if it exited by itself.
type Parser interface {
	Line(line []byte)
	// Result is what the tool reported, whether or not the run succeeded:
	// its session id ("" keeps the one resumed), its summary, and its usage
	// as Facts.Usage says it is counted.
	Result() agentorg.Result
	// Check says why a run that ended by itself failed (an ErrAgent from
	// o.Fail or o.FailNoTail), or nil. It may amend a success's res.
	Check(o *Outcome, res *agentorg.Result) error
}

// Agent runs a Tool as an agentorg.Agent.
type Agent struct {
	tool Tool
}

var (
	_ agentorg.Agent  = (*Agent)(nil)
	_ agentorg.Prober = (*Agent)(nil)
)

// New returns an agent that runs t.
func New(t Tool) *Agent {
	t.Config = t.Config.WithDefaults(t.Name)
	t.Probe.Binary = t.Config.Binary
	return &Agent{tool: t}
}

// Tool is what the agent runs, with its defaults filled in.
func (a *Agent) Tool() Tool { return a.tool }

// Start begins a new session.
func (a *Agent) Start(ctx context.Context, t agentorg.Task) (agentorg.Result, error) {
	return a.run(ctx, "", false, t)
}

// Resume continues session with a new prompt, in the same directory. If the
// tool reports a different session id, that one is returned: the caller
// keeps the newest.
func (a *Agent) Resume(ctx context.Context, session string, t agentorg.Task) (agentorg.Result, error) {
	return a.run(ctx, session, true, t)
}

// Probe checks that the tool is installed and supports the flags used.
func (a *Agent) Probe(ctx context.Context, env []string) agentorg.Probe {
	return Probe(ctx, env, a.tool.Probe)
}

// Locate finds the executable without running it (see the package Locate).
func (a *Agent) Locate(env []string) agentorg.Probe { return Locate(env, a.tool.Probe) }

func (a *Agent) run(ctx context.Context, session string, resume bool, t agentorg.Task) (agentorg.Result, error) {
	spec, r, cleanup, err := a.tool.spec(ctx, session, resume, t)
	if err != nil {
		return agentorg.Result{}, fmt.Errorf("%s agent: %w", a.tool.Name, err)
	}
	defer cleanup()
	p := a.tool.Parse(r)
	spec.Line = p.Line
	o, err := Run(ctx, t, spec)
	if err != nil {
		return agentorg.Result{}, err
	}
	// What the tool reported is returned whatever happened next: a failed
	// run still cost money, and it can still be resumed.
	res := p.Result()
	if res.SessionID == "" {
		res.SessionID = session
	}
	res.Usage = a.tool.Usage.thisRun(res.Usage, t.SessionUsage)
	if err := o.Stopped(); err != nil {
		return res, err
	}
	return res, p.Check(o, &res)
}

// spec is how to run the tool for t, all but the parser; cleanup removes
// what it made for the run.
func (tl Tool) spec(ctx context.Context, session string, resume bool, t agentorg.Task) (s Spec, r Call, cleanup func(), err error) {
	if r, err = tl.prepare(session, resume, t); err != nil {
		return
	}
	env := t.Env
	if tl.Env != nil {
		add, err := tl.Env(r)
		if err != nil {
			return s, r, nil, err
		}
		env = Setenv(env, add...)
	}
	bin, err := LookPath(tl.Config.Binary, t.Env)
	if err != nil {
		return
	}
	if tl.Before != nil {
		if err = tl.Before(ctx, r); err != nil {
			return
		}
	}
	prompt := t.Prompt
	if tl.Prompt != nil {
		prompt = tl.Prompt(prompt)
	}
	var stdin io.Reader = strings.NewReader(prompt)
	cleanup = func() {}
	if tl.PromptFile {
		if r.PromptFile, cleanup, err = tempFile(prompt); err != nil {
			return
		}
		stdin = nil
	}
	return Spec{
		Name:         tl.Name,
		Tool:         tl.Name,
		Argv:         append([]string{bin}, tl.Args(r)...),
		Dir:          r.Dir,
		Env:          env,
		Stdin:        stdin,
		MaxLine:      tl.MaxLine,
		Timeout:      tl.Config.Timeout,
		StallTimeout: tl.Config.StallTimeout,
		TailOfBoth:   tl.TailOfBoth,
		State:        append(append([]string(nil), tl.Facts.State...), CacheState...),
	}, r, cleanup, nil
}

// prepare checks the task before anything runs and describes the run.
func (tl Tool) prepare(session string, resume bool, t agentorg.Task) (Call, error) {
	// An empty Dir would run the tool in agentorg's own directory.
	if t.Dir == "" {
		return Call{}, errors.New("task has no directory")
	}
	dir, err := filepath.Abs(t.Dir)
	if err != nil {
		return Call{}, err
	}
	r := Call{Task: t, Session: session, Access: agentorg.ReadOnly, Dir: dir}
	if t.Access == agentorg.ReadWrite {
		r.Access = agentorg.ReadWrite
	}
	if resume {
		check := tl.Session
		if check == nil {
			check = func(id string, _ Call) error { return CheckID(id, "session id") }
		}
		if err := check(session, r); err != nil {
			return Call{}, err
		}
	}
	if tl.MaxPrompt > 0 && len(t.Prompt) > tl.MaxPrompt {
		return Call{}, fmt.Errorf("prompt of %d bytes is over the %d bytes the CLI reads from stdin", len(t.Prompt), tl.MaxPrompt)
	}
	if tl.NeedsPrompt && strings.TrimSpace(t.Prompt) == "" {
		return Call{}, errors.New("empty prompt")
	}
	return r, nil
}

// CheckID refuses a session id that is empty or that the tool would read
// as something else: it becomes an argument, so a leading dash would make
// it a flag and a space would split it. noun names it in the error.
func CheckID(id, noun string) error {
	switch {
	case id == "":
		return fmt.Errorf("resume needs a %s", noun)
	case strings.HasPrefix(id, "-") || strings.ContainsAny(id, " \t\n"):
		return fmt.Errorf("invalid %s %q", noun, id)
	}
	return nil
}

// Setenv returns env with each "K=V" of add set: earlier entries for K are
// dropped (the last would win anyway, but two are confusing) and add's
// appended in order.
func Setenv(env []string, add ...string) []string {
	if len(add) == 0 {
		return env
	}
	keys := map[string]bool{}
	for _, kv := range add {
		k, _, _ := strings.Cut(kv, "=")
		keys[k] = true
	}
	out := make([]string, 0, len(env)+len(add))
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); !keys[k] {
			out = append(out, kv)
		}
	}
	return append(out, add...)
}

// tempFile puts text in a private temporary file, outside any worktree so
// that it is neither edited nor committed, and returns how to remove it.
func tempFile(text string) (string, func(), error) {
	f, err := os.CreateTemp("", "agentorg-prompt-*.md")
	if err != nil {
		return "", nil, err
	}
	remove := func() { os.Remove(f.Name()) }
	if _, err := io.WriteString(f, text); err != nil {
		f.Close()
		remove()
		return "", nil, err
	}
	if err := f.Close(); err != nil {
		remove()
		return "", nil, err
	}
	return f.Name(), remove, nil
}
