package workspace

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ReadFile returns path's content at commit (ok false when the commit has
// no such file).
func (m *Mirror) ReadFile(ctx context.Context, commit, path string) (content string, ok bool, err error) {
	if err := revArgs(commit); err != nil {
		return "", false, err
	}
	if err := plainArg("path", path); err != nil {
		return "", false, err
	}
	if _, err := git(ctx, m.Dir, "cat-file", "-e", commit+":"+path); err != nil {
		return "", false, nil
	}
	out, err := git(ctx, m.Dir, "cat-file", "blob", commit+":"+path)
	if err != nil {
		return "", false, err
	}
	return out, true, nil
}

// CommitFile makes a commit on parent that sets path to content, as who,
// without a checkout: the tree is parent's with that one file replaced
// (a private index, so nothing else of the mirror changes).
func (m *Mirror) CommitFile(ctx context.Context, parent, path, content, message string, who Identity) (string, error) {
	if err := revArgs(parent); err != nil {
		return "", err
	}
	if err := plainArg("path", path); err != nil || strings.HasPrefix(path, "/") || strings.Contains(path, "..") {
		return "", fmt.Errorf("commit %s: not a path inside the repository", path)
	}
	tmp, err := os.MkdirTemp("", "agentorg-index-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	index := []string{"GIT_INDEX_FILE=" + filepath.Join(tmp, "index")}
	if _, err := gitRun(ctx, m.Dir, who, nil, index, nil, "read-tree", parent); err != nil {
		return "", err
	}
	blob, err := gitWith(ctx, m.Dir, who, strings.NewReader(content), "hash-object", "-w", "--stdin")
	if err != nil {
		return "", err
	}
	if _, err := gitRun(ctx, m.Dir, who, nil, index, nil, "update-index", "--add", "--cacheinfo", "100644,"+strings.TrimSpace(blob)+","+path); err != nil {
		return "", err
	}
	tree, err := gitRun(ctx, m.Dir, who, nil, index, nil, "write-tree")
	if err != nil {
		return "", err
	}
	out, err := gitWith(ctx, m.Dir, who, nil, "commit-tree", strings.TrimSpace(tree), "-p", parent, "-m", message)
	if err != nil {
		return "", fmt.Errorf("commit %s on %s: %w", path, parent, err)
	}
	return strings.TrimSpace(out), nil
}

// TagAt returns the commit tag name points at in the origin ("" when the
// origin has no such tag).
func (m *Mirror) TagAt(ctx context.Context, name string) (string, error) {
	if err := checkTag(ctx, name); err != nil {
		return "", err
	}
	out, err := m.remote(ctx, m.Dir, "ls-remote", "--tags", "origin", "refs/tags/"+name, "refs/tags/"+name+"^{}")
	if err != nil {
		return "", err
	}
	var direct, peeled string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		if strings.HasSuffix(f[1], "^{}") {
			peeled = f[0]
		} else {
			direct = f[0]
		}
	}
	if peeled != "" {
		return peeled, nil
	}
	return direct, nil
}

// Tag makes an annotated tag name on commit with message, as who, and
// pushes it to the origin. A tag the origin already has on that commit is
// left as it is (a retry); on another commit it is an error: a released
// version never moves.
func (m *Mirror) Tag(ctx context.Context, name, commit, message string, who Identity) error {
	if err := checkTag(ctx, name); err != nil {
		return err
	}
	if err := revArgs(commit); err != nil {
		return err
	}
	at, err := m.TagAt(ctx, name)
	if err != nil {
		return err
	}
	full, ok, err := revParse(ctx, m.Dir, commit+"^{commit}")
	if err != nil || !ok {
		return fmt.Errorf("tag %s: no commit %s in the mirror", name, commit)
	}
	switch {
	case at == full:
		return nil
	case at != "":
		return fmt.Errorf("tag %s exists in the origin on %.10s, not on %.10s: a released version never moves", name, at, full)
	}
	if _, err := gitWith(ctx, m.Dir, who, nil, "tag", "-f", "-a", "-m", message, name, full); err != nil {
		return fmt.Errorf("tag %s: %w", name, err)
	}
	args := []string{"push", "--quiet"}
	if m.localOrigin() {
		args = append(args, "--receive-pack=git -c receive.autogc=false -c core.hooksPath=/dev/null receive-pack")
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if _, err := m.remote(ctx, m.Dir, append(args, "origin", "refs/tags/"+name+":refs/tags/"+name)...); err != nil {
		return fmt.Errorf("push tag %s: %w", name, err)
	}
	return nil
}

// checkTag refuses what git would not take as a tag name, or would take as
// an option.
func checkTag(ctx context.Context, name string) error {
	if name == "" || strings.HasPrefix(name, "-") {
		return fmt.Errorf("%q is not a tag name", name)
	}
	if _, err := git(ctx, "", "check-ref-format", "refs/tags/"+name); err != nil {
		return fmt.Errorf("%q is not a tag name", name)
	}
	return nil
}
