package agenttest

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"github.com/agentorg/agentorg/sandbox"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli"
	"github.com/agentorg/agentorg/agent/cli/fakecli"
)

// fakeEnv, in a fake's environment, names its state directory: the turn to
// play, the record of its last run, and its sessions.
const fakeEnv = "AGENTTEST_FAKE"

// Format is how one tool prints a turn, for its fake: an adapter's tests
// implement it from what the real tool was seen to print.
type Format interface {
	// Resumed is the session the command line resumes, "" on a start.
	Resumed(args []string) string
	// NewSession is a fresh session id, shaped like the tool's.
	NewSession() string
	// Prompt reads the prompt the way the tool does (stdin, or a file its
	// arguments name).
	Prompt(args []string, stdin io.Reader) (string, error)
	// Begin prints what the tool prints before it works: its session
	// announced, or not (Play.Told).
	Begin(p *Play)
	// End prints the outcome of p.Turn and returns the usage the tool
	// reported for the run, counted per run.
	End(p *Play) agentorg.Usage
}

// Play is one run of a fake tool.
type Play struct {
	Args    []string
	Out     io.Writer // stdout
	Session string    // the session resumed, or a new one
	Prompt  string
	Turn    Turn
	// Prior is what the session's earlier runs reported, summed: the base
	// of a tool that prints running totals.
	Prior agentorg.Usage
	// Told is set by Begin when it printed the session id.
	Told bool
}

// record is what a fake keeps of its last run, for Seen.
type record struct {
	Args    []string       `json:"args"`
	Env     []string       `json:"env"`
	Prompt  string         `json:"prompt"`
	Session string         `json:"session"` // as told
	History bool           `json:"history"`
	Usage   agentorg.Usage `json:"usage"`
}

// session is what a fake keeps of a session, in its state directory: what
// a real tool keeps under its home.
type session struct {
	Runs  int            `json:"runs"`
	Usage agentorg.Usage `json:"usage"`
}

// ActAs makes this process the fake tool when the suite started it as one:
// it plays the turn it was given through f and exits. Otherwise it returns,
// so that TestMain goes on to the package's other fakes and its tests.
func ActAs(f Format) {
	// A confined run re-executes the test binary as the sandbox's helper,
	// with the task's environment: the helper must confine before the
	// fake plays the tool.
	sandbox.Main()
	if dir := os.Getenv(fakeEnv); dir != "" {
		os.Exit(play(f, dir))
	}
}

func play(f Format, dir string) int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "fake:", err); return 99 }
	var turn Turn
	if err := readJSON(filepath.Join(dir, "turn.json"), &turn); err != nil {
		return fail(err)
	}
	args := os.Args[1:]
	prompt, err := f.Prompt(args, os.Stdin)
	if err != nil {
		return fail(err)
	}
	p := &Play{Args: args, Out: os.Stdout, Prompt: prompt, Turn: turn, Session: f.Resumed(args)}
	var s session
	if p.Session == "" {
		p.Session = f.NewSession()
	} else if err := readJSON(sessionFile(dir, p.Session), &s); err != nil && !os.IsNotExist(err) {
		return fail(err)
	}
	p.Prior = s.Usage
	rec := record{Args: args, Env: os.Environ(), Prompt: prompt, History: s.Runs > 0}

	if turn.Huge > 0 {
		fmt.Println(strings.Repeat("x", turn.Huge))
	}
	if turn.Junk {
		p.Out = crlf{os.Stdout}
		fmt.Fprint(p.Out, "not json at all\n{broken\n[\"an\",\"array\"]\n{\"type\":42}\n{\"type\":\"frobnicate\"}\n\n   \n")
	}
	f.Begin(p)
	if p.Told {
		rec.Session = p.Session
	}
	// The record is written before anything that may not return.
	if err := writeJSON(filepath.Join(dir, "last.json"), rec); err != nil {
		return fail(err)
	}
	for _, w := range turn.Writes {
		if err := os.WriteFile(w.Path, []byte(w.Content), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "write:", err) // the sandbox's business
		}
	}
	if turn.Stall {
		stall()
	}
	rec.Usage = f.End(p)
	rec.Session = p.Session
	s.Runs++
	s.Usage = s.Usage.Add(rec.Usage)
	if err := writeJSON(filepath.Join(dir, "last.json"), rec); err != nil {
		return fail(err)
	}
	if err := writeJSON(sessionFile(dir, p.Session), s); err != nil {
		return fail(err)
	}
	os.Stderr.WriteString(turn.Stderr)
	if turn.Linger {
		stall()
	}
	return turn.Exit
}

// stall says its last words on stderr and waits to be killed.
func stall() {
	fmt.Fprintln(os.Stderr, "last words")
	time.Sleep(10 * time.Minute)
}

func sessionFile(dir, id string) string {
	return filepath.Join(dir, "sessions", strings.NewReplacer("/", "_", ".", "_").Replace(id)+".json")
}

// crlf ends every line it writes with "\r\n", as some tools do.
type crlf struct{ w io.Writer }

func (c crlf) Write(p []byte) (int, error) {
	if _, err := c.w.Write(bytes.ReplaceAll(p, []byte("\n"), []byte("\r\n"))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Fake is the rig of an adapter whose tool is the test binary playing it:
// the package's TestMain must call ActAs with the tool's Format.
type Fake struct {
	// New is the adapter with c's settings.
	New func(c cli.Config) agentorg.Agent
	// Patience is the stall timeout used; 0 is 300ms.
	Patience time.Duration
}

// Rig returns a fresh rig: a directory to work in, and a home holding the
// fake's state.
func (f Fake) Rig(t *testing.T) Rig {
	home := t.TempDir()
	r := &fakeRig{Fake: f, t: t, dir: t.TempDir(), state: filepath.Join(home, ".agenttest")}
	if err := os.MkdirAll(filepath.Join(r.state, "sessions"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.env = []string{"PATH=/usr/bin:/bin", "HOME=" + home, "LANG=C.UTF-8", fakeEnv + "=" + r.state}
	return r
}

type fakeRig struct {
	Fake
	t          *testing.T
	dir, state string
	env        []string
}

func (r *fakeRig) Agent(c cli.Config) agentorg.Agent {
	if c.Binary == "" {
		c.Binary = fakecli.Self(r.t)
	}
	return r.New(c)
}

func (r *fakeRig) Task(t *testing.T, turn Turn) agentorg.Task {
	t.Helper()
	if err := writeJSON(filepath.Join(r.state, "turn.json"), turn); err != nil {
		t.Fatal(err)
	}
	return agentorg.Task{
		Role: "developer", Issue: 2, Attempt: 1,
		Dir:        r.dir,
		Prompt:     "Issue #2: Add is wrong",
		Access:     agentorg.ReadWrite,
		Env:        slices.Clone(r.env),
		Transcript: &bytes.Buffer{},
	}
}

func (r *fakeRig) Last(t *testing.T) Seen {
	t.Helper()
	var rec record
	if err := readJSON(filepath.Join(r.state, "last.json"), &rec); err != nil {
		if os.IsNotExist(err) {
			return Seen{}
		}
		t.Fatal(err)
	}
	return Seen{Argv: rec.Args, Env: rec.Env, Prompt: rec.Prompt, PromptExact: true, Session: rec.Session,
		History: rec.History, Usage: rec.Usage, Ran: true}
}

func (r *fakeRig) Home() string { return "" }

func (r *fakeRig) Patience() time.Duration {
	if r.Fake.Patience > 0 {
		return r.Fake.Patience
	}
	return 300 * time.Millisecond
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// JSON is v as one line of JSON, for a Format's output.
func JSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// RandomID is n random lowercase hex digits, for a Format's session ids.
func RandomID(n int) string {
	b := make([]byte, (n+1)/2)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return fmt.Sprintf("%x", b)[:n]
}

// UUID is a random id shaped like a UUID, as most tools' session ids are.
func UUID() string {
	id := RandomID(32)
	return id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:]
}

// ArgAfter is the argument after flag in args, "" when there is none: the
// session a command line resumes, say.
func ArgAfter(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// Stdin gives a Format the Prompt of a tool that reads it on stdin.
type Stdin struct{}

func (Stdin) Prompt(_ []string, stdin io.Reader) (string, error) {
	b, err := io.ReadAll(stdin)
	return string(b), err
}
