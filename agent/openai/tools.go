package openai

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/agentorg/agentorg/proc"
	"github.com/agentorg/agentorg/sandbox"
)

// Bounds on what one tool call returns to the model and costs the machine.
const (
	MaxToolOutput   = 64 << 10 // bytes of one tool result
	maxListEntries  = 2000
	maxSearchHits   = 500
	maxSearchFile   = 4 << 20 // larger files are not searched
	maxSearchLine   = 300     // bytes of one matching line shown
	maxLineScan     = 1 << 20 // a longer line ends the search of its file
	binarySniffSize = 8000
)

// param is one string parameter of a tool; every parameter of these tools
// is a string.
type param struct {
	name, desc string
	required   bool
}

type tool struct {
	name, desc string
	params     []param
	write      bool // declared for read-write tasks only
	run        func(tb *toolbox, ctx context.Context, args map[string]string) (string, error)
}

var tools = []tool{
	{name: "list_files", desc: "List the files and directories under a directory, recursively (directories end with /). .git is not listed.",
		params: []param{{"path", "directory relative to the working directory; default \".\"", false}},
		run:    (*toolbox).listFiles},
	{name: "read_file", desc: "Read a text file.",
		params: []param{{"path", "file relative to the working directory", true}},
		run:    (*toolbox).readFile},
	{name: "search", desc: "Search files for lines matching a regular expression (RE2 syntax); answers path:line: text.",
		params: []param{{"pattern", "regular expression", true}, {"path", "file or directory to search, relative to the working directory; default \".\"", false}},
		run:    (*toolbox).search},
	{name: "write_file", desc: "Create or overwrite a file with the given content; missing parent directories are created.", write: true,
		params: []param{{"path", "file relative to the working directory", true}, {"content", "the whole new content", true}},
		run:    (*toolbox).writeFile},
	{name: "edit_file", desc: "Replace text in a file: old must occur exactly once in the file and is replaced by new.", write: true,
		params: []param{{"path", "file relative to the working directory", true}, {"old", "exact text to replace, long enough to be unique", true}, {"new", "replacement text", true}},
		run:    (*toolbox).editFile},
	{name: "run_command", desc: "Run a command in the working directory, without a shell: the command is split into words (quotes group words), no pipes, redirections or variables. Answers the exit status and the output.", write: true,
		params: []param{{"command", "the command line, e.g. \"go test ./...\"", true}},
		run:    (*toolbox).runCommand},
}

// toolbox runs the tools of one task, confined to its directory.
type toolbox struct {
	root       string // the task's directory, absolute, symlinks resolved
	dir        string // the task's directory as given (commands run there)
	write      bool
	commands   []string
	env        []string
	cmdTimeout time.Duration
	started    func(pgid int)
	confine    *sandbox.Policy // the task's confinement; nil: none
}

// defs declares the tools the task may use.
func (tb *toolbox) defs() []toolDef {
	var out []toolDef
	no := false
	for _, t := range tools {
		if t.write && !tb.write {
			continue
		}
		if t.name == "run_command" && len(tb.commands) == 0 {
			continue
		}
		s := jsonSchema{Type: "object", Properties: map[string]jsonSchema{}, AdditionalProperties: &no}
		for _, p := range t.params {
			s.Properties[p.name] = jsonSchema{Type: "string", Description: p.desc}
			if p.required {
				s.Required = append(s.Required, p.name)
			}
		}
		desc := t.desc
		if t.name == "run_command" {
			desc += " Allowed programs: " + strings.Join(tb.commands, ", ") + "."
		}
		out = append(out, toolDef{Type: "function", Function: functionDef{Name: t.name, Description: desc, Parameters: s}})
	}
	return out
}

// call runs one tool call and returns the text for the model. invalid is
// true when the call itself was malformed (unknown tool, arguments that do
// not fit the parameters), as opposed to a tool that ran and failed.
func (tb *toolbox) call(ctx context.Context, c functionCall) (out string, invalid bool) {
	t, args, err := tb.validate(c)
	if err != nil {
		return "error: " + err.Error(), true
	}
	out, err = t.run(tb, ctx, args)
	if err != nil {
		return "error: " + err.Error(), false
	}
	return out, false
}

// validate finds the tool and checks the arguments against its parameters.
func (tb *toolbox) validate(c functionCall) (*tool, map[string]string, error) {
	var t *tool
	for i := range tools {
		if tools[i].name == c.Name {
			t = &tools[i]
		}
	}
	names := make([]string, 0, len(tools))
	for _, d := range tb.defs() {
		names = append(names, d.Function.Name)
	}
	if t == nil || !slices.Contains(names, c.Name) {
		why := ""
		switch {
		case t != nil && !tb.write:
			why = " (this task is read-only)"
		case t != nil:
			why = " (no commands are allowed)"
		}
		return nil, nil, fmt.Errorf("unknown tool %q%s; the tools are: %s", c.Name, why, strings.Join(names, ", "))
	}
	raw := strings.TrimSpace(c.Arguments)
	if raw == "" {
		raw = "{}" // some models send no arguments for an all-optional call
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &fields); err != nil || fields == nil {
		return nil, nil, fmt.Errorf("%s: arguments are not a JSON object: %s", c.Name, clip(raw, 200))
	}
	args := map[string]string{}
	for _, p := range t.params {
		v, ok := fields[p.name]
		if !ok || string(v) == "null" {
			if p.required {
				return nil, nil, fmt.Errorf("%s: missing argument %q (%s)", c.Name, p.name, p.desc)
			}
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, nil, fmt.Errorf("%s: argument %q must be a string, got %s", c.Name, p.name, clip(string(v), 100))
		}
		args[p.name] = s
	}
	// Arguments beyond the parameters are ignored: small models add them
	// often, and refusing would only cost a turn.
	return t, args, nil
}

// resolve turns a path the model gave into an absolute path inside the
// root, following symlinks as far as the path exists so that a link cannot
// lead outside. .git is off limits.
func (tb *toolbox) resolve(p string) (string, error) {
	if p == "" {
		p = "."
	}
	if filepath.IsAbs(p) {
		return "", fmt.Errorf("path %q is absolute; give a path relative to the working directory", p)
	}
	clean := filepath.Clean(p)
	if clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("path %q leaves the working directory", p)
	}
	if hasGit(clean) {
		return "", fmt.Errorf("path %q is inside .git, which is off limits", p)
	}
	abs := filepath.Join(tb.root, clean)
	// The longest prefix that exists (as itself, not its link target).
	existing := abs
	for existing != tb.root {
		_, err := os.Lstat(existing)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("path %q: %v", p, unwrapPath(err))
		}
		existing = filepath.Dir(existing)
	}
	real, err := filepath.EvalSymlinks(existing)
	if err != nil {
		// A dangling symlink: writing through it could create a file
		// anywhere.
		return "", fmt.Errorf("path %q: cannot resolve %q: %v", p, relTo(tb.root, existing), unwrapPath(err))
	}
	rel, err := filepath.Rel(tb.root, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("path %q resolves outside the working directory (through a symbolic link)", p)
	}
	if hasGit(rel) {
		return "", fmt.Errorf("path %q resolves into .git, which is off limits", p)
	}
	rest, _ := filepath.Rel(existing, abs)
	return filepath.Join(real, rest), nil
}

func hasGit(rel string) bool {
	return slices.Contains(strings.Split(filepath.ToSlash(rel), "/"), ".git")
}

func relTo(root, abs string) string {
	if r, err := filepath.Rel(root, abs); err == nil {
		return r
	}
	return abs
}

// unwrapPath drops the absolute path from an fs error: the model speaks in
// relative paths.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (tb *toolbox) listFiles(_ context.Context, args map[string]string) (string, error) {
	start, err := tb.resolve(args["path"])
	if err != nil {
		return "", err
	}
	info, err := os.Stat(start)
	if err != nil {
		return "", fmt.Errorf("%s: %v", displayPath(args["path"]), unwrapPath(err))
	}
	if !info.IsDir() {
		return relTo(tb.root, start) + "\n", nil
	}
	var b strings.Builder
	n := 0
	stopped := false
	err = filepath.WalkDir(start, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == start {
				return err
			}
			return nil // an unreadable entry is skipped, not fatal
		}
		if path == start {
			return nil
		}
		if d.Name() == ".git" {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if n >= maxListEntries || b.Len() > MaxToolOutput {
			stopped = true
			return filepath.SkipAll
		}
		n++
		b.WriteString(relTo(tb.root, path))
		if d.IsDir() {
			b.WriteString("/")
		} else if d.Type()&fs.ModeSymlink != 0 {
			b.WriteString(" (symbolic link)")
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("%s: %v", displayPath(args["path"]), unwrapPath(err))
	}
	if n == 0 {
		return "(empty directory)\n", nil
	}
	out := b.String()
	if stopped {
		out += fmt.Sprintf("[... listing stopped after %d entries; list a subdirectory to see more ...]\n", n)
	}
	return out, nil
}

func displayPath(p string) string {
	if p == "" {
		return "."
	}
	return p
}

func (tb *toolbox) readFile(_ context.Context, args map[string]string) (string, error) {
	path, err := tb.resolve(args["path"])
	if err != nil {
		return "", err
	}
	info, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%s: %v", args["path"], unwrapPath(err))
	}
	if info.IsDir() {
		return "", fmt.Errorf("%s is a directory; use list_files", args["path"])
	}
	// Opening a FIFO or a device could block the run forever.
	if !info.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", args["path"])
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%s: %v", args["path"], unwrapPath(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxToolOutput+1))
	if err != nil {
		return "", fmt.Errorf("%s: %v", args["path"], unwrapPath(err))
	}
	if len(data) > MaxToolOutput {
		return strings.ToValidUTF8(string(data[:MaxToolOutput]), "") +
			fmt.Sprintf("\n[... trimmed: the file has %d bytes, only the first %d are shown; use search to find the rest ...]\n", info.Size(), MaxToolOutput), nil
	}
	if len(data) == 0 {
		return "(empty file)\n", nil
	}
	return string(data), nil
}

func (tb *toolbox) search(ctx context.Context, args map[string]string) (string, error) {
	re, err := regexp.Compile(args["pattern"])
	if err != nil {
		return "", fmt.Errorf("pattern %q: %v", args["pattern"], err)
	}
	start, err := tb.resolve(args["path"])
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(start); err != nil {
		return "", fmt.Errorf("%s: %v", displayPath(args["path"]), unwrapPath(err))
	}
	var b strings.Builder
	hits := 0
	full := false
	err = filepath.WalkDir(start, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == start {
				return err
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if d.Name() == ".git" && path != start {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		// Symlinks are not followed: one could point outside the root.
		if !d.Type().IsRegular() {
			return nil
		}
		if full {
			return filepath.SkipAll
		}
		searchFile(path, relTo(tb.root, path), re, &b, &hits)
		if hits >= maxSearchHits || b.Len() >= MaxToolOutput {
			full = true
			return filepath.SkipAll
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("search %s: %v", displayPath(args["path"]), unwrapPath(err))
	}
	if hits == 0 {
		return "no matches\n", nil
	}
	out := b.String()
	if full {
		out = trimHead(out, MaxToolOutput)
		out += fmt.Sprintf("[... stopped after %d matches; narrow the pattern or the path ...]\n", hits)
	}
	return out, nil
}

// searchFile appends the matching lines of one file; binary and very large
// files are skipped.
func searchFile(path, rel string, re *regexp.Regexp, b *strings.Builder, hits *int) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil || info.Size() > maxSearchFile {
		return
	}
	r := bufio.NewReader(f)
	if head, _ := r.Peek(binarySniffSize); bytes.IndexByte(head, 0) >= 0 {
		return
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLineScan)
	for line := 1; sc.Scan(); line++ {
		if !re.Match(sc.Bytes()) {
			continue
		}
		text := strings.ToValidUTF8(clip(string(sc.Bytes()), maxSearchLine), "")
		fmt.Fprintf(b, "%s:%d: %s\n", rel, line, text)
		*hits++
		if *hits >= maxSearchHits || b.Len() >= MaxToolOutput {
			return
		}
	}
}

func (tb *toolbox) writeFile(_ context.Context, args map[string]string) (string, error) {
	path, err := tb.resolve(args["path"])
	if err != nil {
		return "", err
	}
	if info, err := os.Stat(path); err == nil && !info.Mode().IsRegular() {
		return "", fmt.Errorf("%s exists and is not a regular file", args["path"])
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("%s: create parent directories: %v", args["path"], unwrapPath(err))
	}
	if err := os.WriteFile(path, []byte(args["content"]), 0o644); err != nil {
		return "", fmt.Errorf("%s: %v", args["path"], unwrapPath(err))
	}
	return fmt.Sprintf("wrote %d bytes to %s\n", len(args["content"]), args["path"]), nil
}

func (tb *toolbox) editFile(_ context.Context, args map[string]string) (string, error) {
	path, err := tb.resolve(args["path"])
	if err != nil {
		return "", err
	}
	old := args["old"]
	if old == "" {
		return "", errors.New("old is empty; give the exact text to replace (use write_file to create a file)")
	}
	info, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%s: %v", args["path"], unwrapPath(err))
	}
	if !info.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", args["path"])
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %v", args["path"], unwrapPath(err))
	}
	switch n := strings.Count(string(data), old); n {
	case 0:
		return "", fmt.Errorf("old text not found in %s; read the file and copy the text exactly", args["path"])
	case 1:
	default:
		return "", fmt.Errorf("old text occurs %d times in %s; include more surrounding text so that it occurs once", n, args["path"])
	}
	updated := strings.Replace(string(data), old, args["new"], 1)
	if err := os.WriteFile(path, []byte(updated), info.Mode().Perm()); err != nil {
		return "", fmt.Errorf("%s: %v", args["path"], unwrapPath(err))
	}
	return fmt.Sprintf("edited %s\n", args["path"]), nil
}

func (tb *toolbox) runCommand(ctx context.Context, args map[string]string) (string, error) {
	argv, err := splitCommand(args["command"])
	if err != nil {
		return "", err
	}
	if len(argv) == 0 {
		return "", errors.New("the command is empty")
	}
	prog := argv[0]
	if strings.ContainsRune(prog, '/') || !slices.Contains(tb.commands, prog) {
		return "", fmt.Errorf("program %q is not allowed; allowed programs (by name): %s", prog, strings.Join(tb.commands, ", "))
	}
	path, err := lookPath(prog, tb.env)
	if err != nil {
		return "", err
	}
	res, err := proc.Run(ctx, proc.Spec{
		Argv:      append([]string{path}, argv[1:]...),
		Dir:       tb.dir,
		Env:       tb.env,
		Timeout:   tb.cmdTimeout,
		TailBytes: MaxToolOutput,
		Started:   tb.started,
		Confine:   tb.confine,
	})
	if err != nil {
		return "", err
	}
	status := fmt.Sprintf("exit status %d", res.ExitCode)
	switch {
	case res.TimedOut:
		status = fmt.Sprintf("killed: timed out after %s", tb.cmdTimeout)
	case res.Canceled:
		status = "killed: the run was cancelled"
	case res.ExitCode < 0:
		status = "killed by a signal"
	}
	out := res.Tail
	if out == "" {
		out = "(no output)\n"
	}
	return status + "\n" + out, nil
}

// lookPath finds prog in the PATH of the task's environment, not of
// agentorg's own.
func lookPath(prog string, env []string) (string, error) {
	pathVar := getenv(env, "PATH")
	for _, dir := range filepath.SplitList(pathVar) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, prog)
		if info, err := os.Stat(p); err == nil && info.Mode().IsRegular() && info.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("program %q is allowed but not found in the task's PATH (%q)", prog, pathVar)
}

// getenv returns the value of key in env; the last entry wins, as in exec.
func getenv(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

// splitCommand splits a command line into words the way a shell would for
// plain words and quotes, and nothing more: no variables, globs, pipes or
// redirections (those characters are ordinary).
func splitCommand(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case quote == '"':
			switch r {
			case '"':
				quote = 0
			case '\\':
				escaped = true
			default:
				cur.WriteRune(r)
			}
		case r == '\\':
			escaped, inWord = true, true
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote in command %q", quote, s)
	}
	if escaped {
		return nil, fmt.Errorf("command %q ends with a backslash", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// trimHead keeps the first n bytes of s, cut at a line end, with a note.
func trimHead(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := s[:n]
	if i := strings.LastIndexByte(cut, '\n'); i > 0 {
		cut = cut[:i+1]
	}
	return strings.ToValidUTF8(cut, "") + fmt.Sprintf("[... trimmed: %d more bytes ...]\n", len(s)-len(cut))
}
