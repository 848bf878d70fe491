package workspace

import (
	"bytes"
	"compress/zlib"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/agentorg/agentorg/hygiene"
)

// Person is the identity as a commit records it: what Identity signs
// with, defaults filled in as gitEnv fills them.
func (id Identity) Person() hygiene.Person {
	if id.Name == "" {
		id.Name = defaultIdentity.Name
	}
	if id.Email == "" {
		id.Email = defaultIdentity.Email
	}
	return hygiene.Person{Name: id.Name, Email: id.Email}
}

// commitFields is the format of one commit in Commits' `git log -z`:
// fields apart by NUL, which git keeps out of names and messages.
const commitFields = "%H%x00%an%x00%ae%x00%cn%x00%ce%x00%B"

// Commits returns who made each commit of from..to (the commits a push of
// to carries, when from is the target it goes into) and its message, with
// one `git log`. A commit that is a loose object (every commit made in a
// worktree is) is read from its file instead: git's own printing of a
// message stops at a NUL byte, the object does not.
func (m *Mirror) Commits(ctx context.Context, from, to string) ([]hygiene.Commit, error) {
	if err := revArgs(from, to); err != nil {
		return nil, err
	}
	return m.logCommits(ctx, from+".."+to)
}

// Commit returns who made one commit and its message.
func (m *Mirror) Commit(ctx context.Context, sha string) (hygiene.Commit, error) {
	if err := revArgs(sha); err != nil {
		return hygiene.Commit{}, err
	}
	cs, err := m.logCommits(ctx, "-1", sha)
	if err != nil {
		return hygiene.Commit{}, err
	}
	if len(cs) != 1 {
		return hygiene.Commit{}, fmt.Errorf("commit %s: unexpected git log output", sha)
	}
	return cs[0], nil
}

// logCommits reads the commits `git log args` lists, as Commits says.
func (m *Mirror) logCommits(ctx context.Context, args ...string) ([]hygiene.Commit, error) {
	argv := append([]string{"log", "-z", "--no-show-signature", "--format=" + commitFields}, args...)
	out, err := git(ctx, m.Dir, append(argv, "--")...)
	if err != nil {
		return nil, err
	}
	var commits []hygiene.Commit
	f := strings.Split(out, "\x00")
	for i := 0; i+6 <= len(f); i += 6 {
		c := hygiene.Commit{SHA: f[i], Author: hygiene.Person{Name: f[i+1], Email: f[i+2]},
			Committer: hygiene.Person{Name: f[i+3], Email: f[i+4]}, Message: f[i+5]}
		if raw, ok := readLooseCommit(m.Dir, c.SHA); ok {
			c = raw
		}
		commits = append(commits, c)
	}
	return commits, nil
}

// readLooseCommit reads a commit of the bare repository dir from its loose
// object file; ok is false when it cannot (packed, not a commit, too large).
func readLooseCommit(dir, sha string) (hygiene.Commit, bool) {
	body, ok := looseObject(dir, sha, "commit")
	if !ok {
		return hygiene.Commit{}, false
	}
	return parseCommit(sha, body)
}

// looseObject returns the content of a loose object of the bare repository
// dir when it has type kind and fits in maxStdout, as git would print it.
func looseObject(dir, sha, kind string) ([]byte, bool) {
	if !isSHA(sha) {
		return nil, false
	}
	f, err := os.Open(filepath.Join(dir, "objects", sha[:2], sha[2:]))
	if err != nil {
		return nil, false
	}
	defer f.Close()
	z, err := zlib.NewReader(f)
	if err != nil {
		return nil, false
	}
	defer z.Close()
	data, err := io.ReadAll(io.LimitReader(z, maxStdout+64))
	if err != nil {
		return nil, false
	}
	header, body, found := bytes.Cut(data, []byte{0})
	if !found || !bytes.HasPrefix(header, []byte(kind+" ")) || len(data) > maxStdout {
		return nil, false
	}
	return body, true
}

// parseCommit reads a raw commit: header lines ("author Name <email> time
// zone", continuation lines start with a space), a blank line, the message.
func parseCommit(sha string, body []byte) (hygiene.Commit, bool) {
	header, msg, found := strings.Cut(string(body), "\n\n")
	if !found {
		header, msg = strings.TrimSuffix(string(body), "\n"), ""
	}
	c := hygiene.Commit{SHA: sha, Message: msg}
	var author, committer bool
	for _, line := range strings.Split(header, "\n") {
		key, value, _ := strings.Cut(line, " ")
		switch key {
		case "author":
			c.Author, author = person(value), true
		case "committer":
			c.Committer, committer = person(value), true
		}
	}
	return c, author && committer
}

// person reads "Name <email> 1700000000 +0000".
func person(s string) hygiene.Person {
	name, rest, _ := strings.Cut(s, "<")
	email, _, _ := strings.Cut(rest, ">")
	return hygiene.Person{Name: strings.TrimSuffix(name, " "), Email: email}
}
