package codex

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

// The test binary doubles as a fake `codex`: with FAKE_CODEX=1 in its
// environment, TestMain records how it was run and prints the canned output
// the test chose, so the tests drive a real subprocess through the real
// pipes, process group and timeouts.
func TestMain(m *testing.M) {
	if os.Getenv("FAKE_CODEX") == "1" {
		os.Exit(fakeMain())
	}
	os.Exit(m.Run())
}

// fakeRun is what the fake saw.
type fakeRun struct {
	Args  []string `json:"args"`
	Stdin string   `json:"stdin"`
	Dir   string   `json:"dir"`
	Env   []string `json:"env"`
}

// fakeMain: FAKE_RECORD is a file for the fakeRun; FAKE_STDOUT a file copied
// to stdout; FAKE_JUNK a number of bytes of one junk line printed first;
// FAKE_STDERR text for stderr; FAKE_SLEEP a duration to sleep before
// exiting; FAKE_EXIT the exit status. `--version` and `exec --help` print
// FAKE_VERSION and FAKE_HELP.
func fakeMain() int {
	args := os.Args[1:]
	if len(args) == 1 && args[0] == "--version" {
		os.Stdout.WriteString(os.Getenv("FAKE_VERSION"))
		return 0
	}
	if len(args) == 2 && args[1] == "--help" {
		os.Stdout.WriteString(os.Getenv("FAKE_HELP"))
		return 0
	}
	stdin, _ := io.ReadAll(os.Stdin)
	dir, _ := os.Getwd()
	if p := os.Getenv("FAKE_RECORD"); p != "" {
		b, _ := json.Marshal(fakeRun{Args: args, Stdin: string(stdin), Dir: dir, Env: os.Environ()})
		if err := os.WriteFile(p, b, 0o644); err != nil {
			os.Stderr.WriteString(err.Error())
			return 99
		}
	}
	if n, _ := strconv.Atoi(os.Getenv("FAKE_JUNK")); n > 0 {
		junk := make([]byte, n)
		for i := range junk {
			junk[i] = 'x'
		}
		os.Stdout.Write(append(junk, '\n'))
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

// fake is one configured fake run.
type fake struct {
	t      *testing.T
	bin    string
	record string
	env    []string
}

func newFake(t *testing.T, stdout string, env ...string) *fake {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "stdout")
	if err := os.WriteFile(out, []byte(stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &fake{t: t, bin: self, record: filepath.Join(dir, "run.json")}
	f.env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + dir, "FAKE_CODEX=1",
		"FAKE_RECORD=" + f.record, "FAKE_STDOUT=" + out}, env...)
	return f
}

// run returns what the fake recorded of its last run.
func (f *fake) run() fakeRun {
	f.t.Helper()
	b, err := os.ReadFile(f.record)
	if err != nil {
		f.t.Fatalf("the fake did not run: %v", err)
	}
	var r fakeRun
	if err := json.Unmarshal(b, &r); err != nil {
		f.t.Fatal(err)
	}
	return r
}

// jsonl joins canned lines into a stdout.
func jsonl(lines ...string) string { return strings.Join(lines, "\n") + "\n" }
