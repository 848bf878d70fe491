// Package workspace keeps the git side of agentorg: a cached bare mirror of
// the origin, one stable worktree per issue, clean detached checkouts for
// validation (slots of a pool, reused), pushes, and the embedded forge's
// merge. Every git call runs the git CLI with an environment built from
// scratch, an explicit identity, no hooks and bounded output.
package workspace

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/agentorg/agentorg/proc"
)

// Identity is who authors and commits.
type Identity struct{ Name, Email string }

// defaultIdentity signs everything that is not a commit made on behalf of a
// role (reflog entries, mostly), so that git never guesses from the host.
var defaultIdentity = Identity{Name: "agentorg", Email: "agentorg@localhost"}

const (
	// maxStdout bounds what a git call may print; rev-list over a long
	// history is the largest thing we read.
	maxStdout = 64 << 20
	// maxStderr is how much of stderr an error message carries.
	maxStderr = 4 << 10
)

// settings applied to every call, whatever the user's global config says:
// hooks could run code the agent wrote, and signing would prompt.
var safetyConfig = []string{
	"-c", "core.hooksPath=/dev/null",
	"-c", "commit.gpgSign=false",
	"-c", "tag.gpgSign=false",
	"-c", "core.fsmonitor=false",
	// Automatic gc and maintenance fork after fetches and commits; on the
	// engine's hot path they cost more processes than the work itself.
	// The mirror is a cache: `git gc` can run on it from cron if needed.
	"-c", "gc.auto=0",
	"-c", "maintenance.auto=false",
}

// gitEnv builds the environment of a git call from scratch.
func gitEnv(who Identity) []string {
	p := who.Person()
	home := os.Getenv("HOME")
	if home == "" {
		home = os.TempDir()
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"LANG=C",
		"LC_ALL=C",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_CONFIG_NOSYSTEM=1",
		// What validation reads must be the objects pushed: a replace ref
		// or a graft written into the mirror would show git another commit
		// in place of one, or hide a commit from a range.
		"GIT_NO_REPLACE_OBJECTS=1",
		"GIT_GRAFT_FILE=/dev/null/grafts", // a path that cannot exist
		"GIT_AUTHOR_NAME=" + p.Name,
		"GIT_AUTHOR_EMAIL=" + p.Email,
		"GIT_COMMITTER_NAME=" + p.Name,
		"GIT_COMMITTER_EMAIL=" + p.Email,
	}
	// Transport settings the operator chose for reaching the origin over ssh.
	for _, k := range []string{"SSH_AUTH_SOCK", "GIT_SSH_COMMAND", "GIT_SSH"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// errTooLarge is a git call whose output is over maxStdout.
var errTooLarge = errors.New("output too large")

// gitError is a failed git call: the command, where, how it ended, and the
// tail of its stderr.
type gitError struct {
	dir    string
	args   []string
	code   int // exit code, -1 if it did not exit normally
	err    error
	stderr string
}

func (e *gitError) Error() string {
	args := make([]string, len(e.args))
	for i, a := range e.args {
		args[i] = a
		if a == "" || strings.ContainsAny(a, " \t\n\"'") {
			args[i] = strconv.Quote(a)
		}
	}
	msg := fmt.Sprintf("git -C %s %s: %v", e.dir, strings.Join(args, " "), e.err)
	if s := strings.TrimSpace(e.stderr); s != "" {
		msg += ": " + s
	}
	return redact(msg)
}

func (e *gitError) Unwrap() error { return e.err }

// exitCode returns the exit code of a failed git call, or -1.
func exitCode(err error) int {
	var ge *gitError
	if errors.As(err, &ge) {
		return ge.code
	}
	return -1
}

var credRE = regexp.MustCompile(`(://[^/@\s:]+:)[^@/\s]+@`)

// redact hides passwords and tokens embedded in URLs (https://user:tok@host).
func redact(s string) string { return credRE.ReplaceAllString(s, "${1}***@") }

// git runs one git command in dir and returns its stdout.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	return gitWith(ctx, dir, defaultIdentity, nil, args...)
}

// gitWith runs one git command as who, with stdin.
func gitWith(ctx context.Context, dir string, who Identity, stdin io.Reader, args ...string) (string, error) {
	return gitRun(ctx, dir, who, stdin, nil, nil, args...)
}

// gitRun runs one git command as who, with stdin and extra environment.
// progress, when not nil, also receives what git writes to stderr, as it
// comes (the caller asks for --progress).
func gitRun(ctx context.Context, dir string, who Identity, stdin io.Reader, extraEnv []string, progress io.Writer, args ...string) (string, error) {
	argv := append(append([]string{}, safetyConfig...), args...)
	cmd := exec.CommandContext(ctx, "git", argv...)
	cmd.Dir = dir
	cmd.Env = append(gitEnv(who), extraEnv...)
	cmd.Stdin = stdin
	stdout := &capped{max: maxStdout}
	stderr := &proc.Tail{Max: maxStderr}
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	if progress != nil {
		cmd.Stderr = io.MultiWriter(stderr, progress)
	}
	// A session of its own: no controlling terminal for ssh to prompt on,
	// and cancellation kills git's children (ssh, remote helpers) too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if err == nil && stdout.over {
		err = fmt.Errorf("%w: over %d bytes", errTooLarge, maxStdout)
	}
	if err != nil {
		code := -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return stdout.String(), &gitError{dir: dir, args: args, code: code, err: err, stderr: stderr.String()}
	}
	return stdout.String(), nil
}

// capped keeps at most max bytes and remembers that it dropped some.
type capped struct {
	max  int
	buf  bytes.Buffer
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); len(p) > room {
		c.over = true
		c.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	c.buf.Write(p)
	return len(p), nil
}

func (c *capped) String() string { return c.buf.String() }

// revParse resolves rev to a commit SHA; ok is false when it does not exist.
func revParse(ctx context.Context, dir, rev string) (sha string, ok bool, err error) {
	if err := plainArg("revision", rev); err != nil {
		return "", false, err
	}
	// Branch refs of a bare repository are read from their files: the
	// engine resolves a dozen per issue, and a process each adds up.
	if strings.HasPrefix(rev, "refs/heads/") || strings.HasPrefix(rev, "refs/remotes/") {
		if sha, found, handled := refFromFiles(dir, rev); handled {
			return sha, found, nil
		}
	}
	// A full SHA whose commit is a loose object (every commit the engine
	// makes is, until a gc packs it) is read from its file too.
	if isSHA(rev) && looseCommit(dir, rev) {
		return rev, true, nil
	}
	out, err := git(ctx, dir, "rev-parse", "--verify", "--quiet", rev+"^{commit}")
	if err != nil {
		if exitCode(err) == 1 {
			return "", false, nil
		}
		return "", false, err
	}
	return strings.TrimSpace(out), true, nil
}

// looseCommit reports whether the bare repository dir holds sha as a loose
// commit object: its file's zlib stream starts with the header "commit ".
// false means "ask git" (packed, another type, not bare, anything odd).
func looseCommit(dir, sha string) bool {
	_, _, ok := looseCommitHeader(dir, sha)
	return ok
}

// looseCommitTree returns the tree of a loose commit object of the bare
// repository dir, read from its file; ok is false when it cannot say.
func looseCommitTree(dir, sha string) (tree string, ok bool) {
	tree, _, ok = looseCommitHeader(dir, sha)
	return tree, ok
}

// looseCommitHeader reads the tree and the parents of a loose commit object
// of the bare repository dir from its file: "commit <size>\0", then
// "tree <sha>\n" and one "parent <sha>\n" per parent. ok is false when it
// cannot say (packed, another type, more parents than it reads).
func looseCommitHeader(dir, sha string) (tree string, parents []string, ok bool) {
	if len(sha) != 40 {
		return "", nil, false
	}
	if fi, err := os.Stat(filepath.Join(dir, "objects")); err != nil || !fi.IsDir() {
		return "", nil, false
	}
	f, err := os.Open(filepath.Join(dir, "objects", sha[:2], sha[2:]))
	if err != nil {
		return "", nil, false
	}
	defer f.Close()
	z, err := zlib.NewReader(f)
	if err != nil {
		return "", nil, false
	}
	defer z.Close()
	var b [256]byte
	n, _ := io.ReadFull(z, b[:])
	header, body, found := strings.Cut(string(b[:n]), "\x00")
	if !found || !strings.HasPrefix(header, "commit ") {
		return "", nil, false
	}
	lines := strings.Split(body, "\n")
	tree, found = strings.CutPrefix(lines[0], "tree ")
	if !found || !isSHA(tree) {
		return "", nil, false
	}
	for _, line := range lines[1 : len(lines)-1] { // the last may be cut short
		p, found := strings.CutPrefix(line, "parent ")
		if !found {
			return tree, parents, true // past the parents: the list is whole
		}
		if !isSHA(p) {
			return "", nil, false
		}
		parents = append(parents, p)
	}
	return tree, nil, false // more parents than fit: ask git
}

// refFromFiles reads a ref of the bare repository dir as git stores it: a
// loose file under the repository (written by rename, so never half
// there), else a line of packed-refs. handled is false when the files
// cannot answer for sure (not a bare repository, a symbolic ref, anything
// unexpected); the caller then asks git.
func refFromFiles(dir, ref string) (sha string, found, handled bool) {
	if fi, err := os.Stat(filepath.Join(dir, "objects")); err != nil || !fi.IsDir() {
		return "", false, false
	}
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err != nil {
		return "", false, false
	}
	if strings.Contains(ref, "..") {
		return "", false, false
	}
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(ref)))
	switch {
	case err == nil:
		v := strings.TrimSpace(string(b))
		if isSHA(v) {
			return v, true, true
		}
		return "", false, false // symbolic or unexpected
	case !errors.Is(err, os.ErrNotExist):
		return "", false, false
	}
	packed, err := os.ReadFile(filepath.Join(dir, "packed-refs"))
	if errors.Is(err, os.ErrNotExist) {
		return "", false, true
	}
	if err != nil {
		return "", false, false
	}
	for _, line := range strings.Split(string(packed), "\n") {
		if v, name, ok := strings.Cut(line, " "); ok && name == ref && isSHA(v) {
			return v, true, true
		}
	}
	return "", false, true
}

// plainArg refuses values git would read as an option.
func plainArg(what, v string) error {
	if v == "" {
		return fmt.Errorf("empty %s", what)
	}
	if strings.HasPrefix(v, "-") {
		return fmt.Errorf("invalid %s %q", what, v)
	}
	return nil
}

// checkBranch validates a branch name the way git does.
func checkBranch(ctx context.Context, branch string) error {
	if err := plainArg("branch", branch); err != nil {
		return err
	}
	// Asking git once per name is exact; asking every time costs a process
	// on every call of the hot path. Names made only of the plainest
	// characters are judged here (each issue has a new branch name).
	if plainBranch(branch) {
		return nil
	}
	if _, ok := validBranches.Load(branch); ok {
		return nil
	}
	if _, err := git(ctx, "", "check-ref-format", "refs/heads/"+branch); err != nil {
		return fmt.Errorf("invalid branch name %q", branch)
	}
	validBranches.Store(branch, true)
	return nil
}

// plainBranch accepts a subset of the names git-check-ref-format(1)
// accepts: letters, digits, '-', '_', '.' and '/' only, no empty component,
// no component that starts with '.' or ends with ".lock", no "..", and no
// '.' at the end. Anything else is for git to judge.
func plainBranch(b string) bool {
	if b == "" || strings.Contains(b, "..") || strings.HasSuffix(b, ".") {
		return false
	}
	for _, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '/'
		if !ok {
			return false
		}
	}
	for _, part := range strings.Split(b, "/") {
		if part == "" || strings.HasPrefix(part, ".") || strings.HasSuffix(part, ".lock") {
			return false
		}
	}
	return true
}

// validBranches caches names git accepted.
var validBranches sync.Map

var shaRE = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)

func isSHA(s string) bool { return shaRE.MatchString(s) }

// canonical returns an absolute path with symlinks resolved as far as the
// path exists, so that paths git prints compare equal to ours.
func canonical(p string) string {
	p, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	rest := ""
	for cur := p; ; {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return p
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

// forceRemoveAll removes a tree even when it holds read-only directories
// (a Go module cache written by a check, for one).
func forceRemoveAll(p string) error {
	if err := os.RemoveAll(p); err == nil {
		return nil
	}
	filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(path, 0o700)
		}
		return nil
	})
	return os.RemoveAll(p)
}
