package openai

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// newToolbox makes a task directory with a .git, a file, and a sibling
// "outside" directory holding a secret, and returns a read-write toolbox.
func newToolbox(t *testing.T, commands ...string) (*toolbox, string) {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "work")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{root, outside, filepath.Join(root, ".git"), filepath.Join(root, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(outside, "secret.txt"), "TOP SECRET\n")
	write(t, filepath.Join(root, ".git", "config"), "[core]\n")
	write(t, filepath.Join(root, "main.go"), "package main\n\nfunc main() {}\n")
	write(t, filepath.Join(root, "sub", "a.txt"), "alpha\nbeta\n")
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		t.Fatal(err)
	}
	return &toolbox{root: real, dir: root, write: true, commands: commands,
		env: []string{"PATH=/usr/bin:/bin"}, cmdTimeout: time.Minute}, outside
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// run calls a tool by name with JSON arguments.
func run(tb *toolbox, name, args string) (string, bool) {
	return tb.call(context.Background(), functionCall{Name: name, Arguments: args})
}

func TestPathConfinement(t *testing.T) {
	tb, outside := newToolbox(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(outside, filepath.Join(tb.root, "outlink")))
	must(os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(tb.root, "secretlink")))
	must(os.Symlink(filepath.Join(outside, "new.txt"), filepath.Join(tb.root, "dangling")))
	must(os.Symlink(".git", filepath.Join(tb.root, "gitlink")))
	must(os.Symlink("sub", filepath.Join(tb.root, "sublink")))

	refused := []struct{ tool, args, want string }{
		{"read_file", `{"path":"/etc/passwd"}`, "is absolute"},
		{"read_file", `{"path":"../outside/secret.txt"}`, "leaves the working directory"},
		{"read_file", `{"path":"sub/../../outside/secret.txt"}`, "leaves the working directory"},
		{"read_file", `{"path":".git/config"}`, "inside .git"},
		{"read_file", `{"path":"sub/../.git/config"}`, "inside .git"},
		{"read_file", `{"path":"outlink/secret.txt"}`, "resolves outside"},
		{"read_file", `{"path":"secretlink"}`, "resolves outside"},
		{"read_file", `{"path":"gitlink/config"}`, "resolves into .git"},
		{"list_files", `{"path":"outlink"}`, "resolves outside"},
		{"search", `{"pattern":"SECRET","path":"outlink"}`, "resolves outside"},
		{"write_file", `{"path":"outlink/evil.txt","content":"x"}`, "resolves outside"},
		{"write_file", `{"path":"outlink/deeper/evil.txt","content":"x"}`, "resolves outside"},
		{"write_file", `{"path":"dangling","content":"x"}`, "cannot resolve"},
		{"write_file", `{"path":".git/hooks/pre-commit","content":"x"}`, "inside .git"},
		{"edit_file", `{"path":"secretlink","old":"TOP","new":"NOT"}`, "resolves outside"},
	}
	for _, c := range refused {
		out, invalid := run(tb, c.tool, c.args)
		if invalid || !strings.HasPrefix(out, "error: ") || !strings.Contains(out, c.want) {
			t.Errorf("%s %s = %q (invalid %v), want an error containing %q", c.tool, c.args, out, invalid, c.want)
		}
	}
	if got := read(t, filepath.Join(outside, "secret.txt")); got != "TOP SECRET\n" {
		t.Errorf("secret changed to %q", got)
	}
	for _, p := range []string{filepath.Join(outside, "evil.txt"), filepath.Join(outside, "new.txt"), filepath.Join(outside, "deeper")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was created outside the working directory", p)
		}
	}

	// Special files are refused rather than opened (a FIFO would block).
	if err := syscall.Mkfifo(filepath.Join(tb.root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ tool, args string }{
		{"read_file", `{"path":"fifo"}`},
		{"write_file", `{"path":"fifo","content":"x"}`},
		{"edit_file", `{"path":"fifo","old":"a","new":"b"}`},
	} {
		if out, _ := run(tb, c.tool, c.args); !strings.Contains(out, "not a regular file") {
			t.Errorf("%s on a FIFO = %q", c.tool, out)
		}
	}

	// A link that stays inside, and a new file in new directories, are fine.
	if out, _ := run(tb, "read_file", `{"path":"sublink/a.txt"}`); out != "alpha\nbeta\n" {
		t.Errorf("read through an inside link = %q", out)
	}
	if out, _ := run(tb, "write_file", `{"path":"new/dir/x.txt","content":"hi\n"}`); !strings.HasPrefix(out, "wrote 3 bytes") {
		t.Errorf("write_file new/dir/x.txt = %q", out)
	}
	if got := read(t, filepath.Join(tb.root, "new", "dir", "x.txt")); got != "hi\n" {
		t.Errorf("new/dir/x.txt = %q", got)
	}
}

func TestEditFileNeedsExactlyOneOccurrence(t *testing.T) {
	tb, _ := newToolbox(t)
	path := filepath.Join(tb.root, "f.txt")
	write(t, path, "one two two\n")
	cases := []struct{ args, want string }{
		{`{"path":"f.txt","old":"three","new":"x"}`, "not found"},
		{`{"path":"f.txt","old":"two","new":"x"}`, "occurs 2 times"},
		{`{"path":"f.txt","old":"","new":"x"}`, "old is empty"},
		{`{"path":"missing.txt","old":"a","new":"b"}`, "no such file"},
	}
	for _, c := range cases {
		out, invalid := run(tb, "edit_file", c.args)
		if invalid || !strings.Contains(out, c.want) {
			t.Errorf("edit_file %s = %q (invalid %v), want %q", c.args, out, invalid, c.want)
		}
	}
	if got := read(t, path); got != "one two two\n" {
		t.Fatalf("failed edits changed the file to %q", got)
	}
	if out, _ := run(tb, "edit_file", `{"path":"f.txt","old":"one two","new":"1 2"}`); out != "edited f.txt\n" {
		t.Fatalf("edit = %q", out)
	}
	if got := read(t, path); got != "1 2 two\n" {
		t.Fatalf("after the edit the file is %q", got)
	}
}

func TestRunCommandAllowList(t *testing.T) {
	tb, _ := newToolbox(t, "echo", "sh")
	cases := []struct{ command, want string }{
		{"rm -rf .", `program "rm" is not allowed`},
		{"/bin/echo hi", `program "/bin/echo" is not allowed`},
		{"./echo hi", `program "./echo" is not allowed`},
		{"", "the command is empty"},
		{`echo "unterminated`, "unterminated"},
	}
	for _, c := range cases {
		out, invalid := run(tb, "run_command", `{"command":`+quote(c.command)+`}`)
		if invalid || !strings.HasPrefix(out, "error: ") || !strings.Contains(out, c.want) {
			t.Errorf("run_command %q = %q (invalid %v), want an error with %q", c.command, out, invalid, c.want)
		}
	}
	// No shell: a pipe is an ordinary word, quotes group words.
	out, _ := run(tb, "run_command", `{"command":"echo 'a  b' | wc"}`)
	if out != "exit status 0\na  b | wc\n" {
		t.Errorf("echo through no shell = %q", out)
	}
	// It runs in the task's directory with the task's environment.
	out, _ = run(tb, "run_command", `{"command":"sh -c 'pwd; echo PATH=$PATH; exit 3'"}`)
	want := "exit status 3\n" + tb.dir + "\nPATH=/usr/bin:/bin\n"
	if out != want {
		t.Errorf("sh -c = %q, want %q", out, want)
	}
	// The program is looked up in the task's PATH, not agentorg's.
	tb.env = []string{"PATH=" + t.TempDir()}
	out, _ = run(tb, "run_command", `{"command":"echo hi"}`)
	if !strings.Contains(out, "not found in the task's PATH") {
		t.Errorf("echo with an empty PATH = %q", out)
	}
}

func TestRunCommandTimeout(t *testing.T) {
	tb, _ := newToolbox(t, "sh")
	tb.cmdTimeout = 300 * time.Millisecond
	out, _ := run(tb, "run_command", `{"command":"sh -c 'echo started; sleep 30'"}`)
	if !strings.HasPrefix(out, "killed: timed out after 300ms\nstarted\n") {
		t.Errorf("output = %q", out)
	}
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func TestArgumentValidation(t *testing.T) {
	tb, _ := newToolbox(t)
	ro := *tb
	ro.write = false
	cases := []struct {
		tb         *toolbox
		name, args string
		want       string
	}{
		{tb, "delete_file", `{"path":"x"}`, `unknown tool "delete_file"`},
		{tb, "read_file", `{"path":`, "not a JSON object"},
		{tb, "read_file", `["main.go"]`, "not a JSON object"},
		{tb, "read_file", `null`, "not a JSON object"},
		{tb, "read_file", `{}`, `missing argument "path"`},
		{tb, "read_file", `{"path":null}`, `missing argument "path"`},
		{tb, "read_file", `{"path":42}`, `argument "path" must be a string, got 42`},
		{tb, "write_file", `{"path":"x"}`, `missing argument "content"`},
		{tb, "edit_file", `{"path":"x","old":"a","new":true}`, `argument "new" must be a string`},
		{tb, "run_command", `{"command":"go"}`, `unknown tool "run_command" (no commands are allowed)`},
		{&ro, "write_file", `{"path":"x","content":"y"}`, `unknown tool "write_file" (this task is read-only); the tools are: list_files, read_file, search`},
	}
	for _, c := range cases {
		out, invalid := run(c.tb, c.name, c.args)
		if !invalid || !strings.HasPrefix(out, "error: ") || !strings.Contains(out, c.want) {
			t.Errorf("%s %s = %q (invalid %v), want an invalid call with %q", c.name, c.args, out, invalid, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(tb.root, "x")); err == nil {
		t.Error("an invalid call wrote a file")
	}
	// A valid call that fails is the tool's error, not an invalid call.
	if out, invalid := run(tb, "read_file", `{"path":"nope.txt"}`); invalid || !strings.Contains(out, "nope.txt: no such file") {
		t.Errorf("read of a missing file = %q (invalid %v)", out, invalid)
	}
	// Optional arguments may be left out; extra ones are ignored.
	if out, invalid := run(tb, "list_files", ``); invalid || !strings.Contains(out, "main.go") {
		t.Errorf("list_files without arguments = %q (invalid %v)", out, invalid)
	}
	if out, invalid := run(tb, "read_file", `{"path":"main.go","limit":10}`); invalid || !strings.HasPrefix(out, "package main") {
		t.Errorf("read_file with an extra argument = %q (invalid %v)", out, invalid)
	}
}

func TestDeclaredTools(t *testing.T) {
	names := func(tb *toolbox) []string {
		var out []string
		for _, d := range tb.defs() {
			out = append(out, d.Function.Name)
			if d.Type != "function" || d.Function.Parameters.Type != "object" {
				t.Errorf("%s: malformed declaration %+v", d.Function.Name, d)
			}
		}
		return out
	}
	tb, _ := newToolbox(t)
	ro := *tb
	ro.write = false
	if got, want := names(&ro), []string{"list_files", "read_file", "search"}; !reflect.DeepEqual(got, want) {
		t.Errorf("read-only tools = %v, want %v", got, want)
	}
	if got, want := names(tb), []string{"list_files", "read_file", "search", "write_file", "edit_file"}; !reflect.DeepEqual(got, want) {
		t.Errorf("read-write tools without commands = %v, want %v", got, want)
	}
	tb.commands = []string{"go"}
	if got, want := names(tb), []string{"list_files", "read_file", "search", "write_file", "edit_file", "run_command"}; !reflect.DeepEqual(got, want) {
		t.Errorf("read-write tools with commands = %v, want %v", got, want)
	}
	for _, d := range tb.defs() {
		if d.Function.Name == "edit_file" && !reflect.DeepEqual(d.Function.Parameters.Required, []string{"path", "old", "new"}) {
			t.Errorf("edit_file requires %v", d.Function.Parameters.Required)
		}
	}
}

func TestListAndSearchSkipGitAndOutsideLinks(t *testing.T) {
	tb, outside := newToolbox(t)
	if err := os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(tb.root, "sub", "leak")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(tb.root, "bin.dat"), "alpha\x00beta")
	list, _ := run(tb, "list_files", `{"path":"."}`)
	want := "bin.dat\nmain.go\nsub/\nsub/a.txt\nsub/leak (symbolic link)\n"
	if list != want {
		t.Errorf("list_files = %q, want %q", list, want)
	}
	out, _ := run(tb, "search", `{"pattern":"alpha|core|SECRET"}`)
	if out != "sub/a.txt:1: alpha\n" {
		t.Errorf("search = %q", out)
	}
	out, _ = run(tb, "search", `{"pattern":"main\\(\\)","path":"main.go"}`)
	if out != "main.go:3: func main() {}\n" {
		t.Errorf("search one file = %q", out)
	}
	out, _ = run(tb, "search", `{"pattern":"(unclosed"}`)
	if !strings.Contains(out, "missing closing )") {
		t.Errorf("bad pattern = %q", out)
	}
	if out, _ := run(tb, "search", `{"pattern":"zzz"}`); out != "no matches\n" {
		t.Errorf("no match = %q", out)
	}
}

func TestOutputsAreBounded(t *testing.T) {
	tb, _ := newToolbox(t, "sh")
	big := strings.Repeat("0123456789abcdef match\n", 10000) // 230 000 bytes
	write(t, filepath.Join(tb.root, "big.txt"), big)

	out, _ := run(tb, "read_file", `{"path":"big.txt"}`)
	if len(out) > MaxToolOutput+200 || !strings.Contains(out, "[... trimmed: the file has 230000 bytes") {
		t.Errorf("read_file of a big file: %d bytes, ends %q", len(out), out[max(len(out)-150, 0):])
	}
	out, _ = run(tb, "search", `{"pattern":"match"}`)
	if len(out) > MaxToolOutput+200 || !strings.Contains(out, "[... stopped after 500 matches") {
		t.Errorf("search with many hits: %d bytes, ends %q", len(out), out[max(len(out)-150, 0):])
	}
	out, _ = run(tb, "run_command", `{"command":"sh -c 'cat big.txt; echo last line'"}`)
	if len(out) > MaxToolOutput+200 || !strings.Contains(out, "bytes cut ...]") || !strings.HasSuffix(out, "last line\n") {
		t.Errorf("run_command with much output: %d bytes, starts %q", len(out), out[:min(len(out), 150)])
	}
}

func TestSplitCommand(t *testing.T) {
	cases := map[string][]string{
		`go test ./...`:          {"go", "test", "./..."},
		`  gofmt   -l  . `:       {"gofmt", "-l", "."},
		`go test -run 'Test A$'`: {"go", "test", "-run", "Test A$"},
		`echo "a \"b\" c" d\ e`:  {"echo", `a "b" c`, "d e"},
		`echo '' ""`:             {"echo", "", ""},
		`echo $HOME > out; rm *`: {"echo", "$HOME", ">", "out;", "rm", "*"},
		"go\tvet\n./...":         {"go", "vet", "./..."},
		``:                       nil,
	}
	for in, want := range cases {
		got, err := splitCommand(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("splitCommand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`echo 'a`, `echo "a`, `echo a\`} {
		if _, err := splitCommand(bad); err == nil {
			t.Errorf("splitCommand(%q) accepted", bad)
		}
	}
}
