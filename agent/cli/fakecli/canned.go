package fakecli

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Run is what the Canned fake saw of one run.
type Run struct {
	Args  []string `json:"args"`
	Stdin string   `json:"stdin"`
	Dir   string   `json:"dir"`
	Env   []string `json:"env"`
}

// Canned is a fake CLI whose behaviour the test sets in its environment:
// FAKE_RECORD is a file for the Run; FAKE_STDOUT a file copied to stdout;
// FAKE_JUNK a number of bytes of one junk line printed first; FAKE_STDERR
// text for stderr; FAKE_SLEEP a duration to sleep before exiting; FAKE_EXIT
// the exit status. `--version` prints FAKE_VERSION, and a help command (one
// or two arguments, the last "--help") FAKE_HELP. Its argument is Main's
// value, unused.
func Canned(string) int {
	args := os.Args[1:]
	if len(args) == 1 && args[0] == "--version" {
		os.Stdout.WriteString(os.Getenv("FAKE_VERSION"))
		return 0
	}
	if (len(args) == 1 || len(args) == 2) && args[len(args)-1] == "--help" {
		os.Stdout.WriteString(os.Getenv("FAKE_HELP"))
		return 0
	}
	stdin, _ := io.ReadAll(os.Stdin)
	dir, _ := os.Getwd()
	if p := os.Getenv("FAKE_RECORD"); p != "" {
		b, _ := json.Marshal(Run{Args: args, Stdin: string(stdin), Dir: dir, Env: os.Environ()})
		if err := os.WriteFile(p, b, 0o644); err != nil {
			os.Stderr.WriteString(err.Error())
			return 99
		}
	}
	if n, _ := strconv.Atoi(os.Getenv("FAKE_JUNK")); n > 0 {
		os.Stdout.Write(append([]byte(strings.Repeat("x", n)), '\n'))
	}
	if p := os.Getenv("FAKE_STDOUT"); p != "" {
		f, err := os.Open(p)
		if err != nil {
			os.Stderr.WriteString(err.Error())
			return 99
		}
		io.Copy(os.Stdout, f)
		f.Close()
	}
	os.Stderr.WriteString(os.Getenv("FAKE_STDERR"))
	if d, err := time.ParseDuration(os.Getenv("FAKE_SLEEP")); err == nil {
		time.Sleep(d)
	}
	code, _ := strconv.Atoi(os.Getenv("FAKE_EXIT"))
	return code
}

// Fake is one configured Canned fake: run Bin with Env.
type Fake struct {
	Bin string
	Env []string

	t      testing.TB
	record string
}

// New configures a Canned fake that prints stdout. enable is the variable
// that makes the test binary the fake (Main's env); env adds FAKE_*
// settings. Env has a PATH and a fresh HOME.
func New(t testing.TB, enable, stdout string, env ...string) *Fake {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "stdout")
	if err := os.WriteFile(out, []byte(stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &Fake{t: t, Bin: Self(t), record: filepath.Join(dir, "run.json")}
	f.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + dir, enable + "=1",
		"FAKE_RECORD=" + f.record, "FAKE_STDOUT=" + out}, env...)
	return f
}

// Ran says whether the fake ran at all.
func (f *Fake) Ran() bool {
	_, err := os.Stat(f.record)
	return err == nil
}

// Run returns what the fake recorded of its last run.
func (f *Fake) Run() Run {
	f.t.Helper()
	b, err := os.ReadFile(f.record)
	if err != nil {
		f.t.Fatalf("the fake did not run: %v", err)
	}
	var r Run
	if err := json.Unmarshal(b, &r); err != nil {
		f.t.Fatal(err)
	}
	return r
}

// JSONL joins canned lines into a stdout.
func JSONL(lines ...string) string { return strings.Join(lines, "\n") + "\n" }
