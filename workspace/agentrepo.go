package workspace

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// A work tree's .git is a standalone repository for the agents that work
// or read there: its own HEAD, index, refs, config and hooks, and the
// mirror's objects borrowed read-only through objects/info/alternates. So
// git in the work tree needs nothing of the mirror but to read its
// objects, and whatever an agent does to its repository stays in it.
// publish shows the agents what the engine's git directory holds (HEAD,
// the branch, the index, a merge under way); agentorg writes there and
// never reads from there (but for the hint of mergeAbandoned).

// agentConfig is the config of a new agents' repository: what `git init`
// writes on Linux.
const agentConfig = "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n"

// mergeFiles are a merge under way, shown to the agent as the engine has it.
var mergeFiles = []string{"MERGE_HEAD", "MERGE_MSG", "MERGE_MODE"}

// staleFiles would contradict what publish shows: an operation of the
// agent's own under way, or a lock a killed git left.
var staleFiles = []string{"index.lock", "HEAD.lock", "CHERRY_PICK_HEAD", "REVERT_HEAD", "AUTO_MERGE",
	"rebase-merge", "rebase-apply", "sequencer"}

// publish makes dir/.git the agents' repository showing the state of the
// engine's git directory admin: HEAD (the branch, pointing at the engine's
// commit, or detached), the index, a merge under way. The agent's own
// config, hooks, other refs and objects stay, unless wipe is set (a
// checkout slot, handed to the next run as new) or they are in the way
// (a .git that is not a directory, a symlink out of the work tree): the
// repository is then made anew. The agent's files are never touched.
//
// Writes go through an os.Root on dir, so no symlink an agent planted
// leads them out of the work tree.
func (m *Mirror) publish(dir, admin string, wipe bool) error {
	view, err := m.agentView(admin)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	if fi, err := root.Lstat(".git"); err == nil && !fi.IsDir() {
		wipe = true
	} else if wipe && pristine(root) {
		// As publish left it: only HEAD and the index are written. Making
		// it anew at every lease costs dozens of directory writes.
		wipe = false
	}
	if wipe {
		if err := root.RemoveAll(".git"); err != nil {
			return err
		}
	}
	if err := view.write(root); err != nil {
		if wipe {
			return fmt.Errorf("worktree %s: %w", dir, err)
		}
		// In the way: start the repository afresh.
		if err := root.RemoveAll(".git"); err != nil {
			return err
		}
		return view.write(root)
	}
	return nil
}

// pristineLayout is a detached agents' repository as publish makes it:
// each path, and whether it is a directory.
var pristineLayout = map[string]bool{
	".git": true, ".git/HEAD": false, ".git/config": false, ".git/index": false,
	".git/objects": true, ".git/objects/info": true, ".git/objects/info/alternates": false,
	".git/refs": true, ".git/refs/heads": true, ".git/refs/tags": true,
}

// pristine reports that root's .git holds nothing but what publish makes
// for a detached tree, with the config it writes: nothing a run added or
// changed there but HEAD, the index or alternates, which publish writes
// anyway.
func pristine(root *os.Root) bool {
	ok := true
	err := fs.WalkDir(root.FS(), ".git", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dir, known := pristineLayout[p]
		if !known || dir != d.IsDir() || (!dir && !d.Type().IsRegular()) {
			ok = false
			return fs.SkipAll
		}
		return nil
	})
	if err != nil || !ok {
		return false
	}
	b, err := root.ReadFile(".git/config")
	return err == nil && string(b) == agentConfig
}

// agentView is what an agents' repository is to hold, read from the
// engine's git directory.
type agentView struct {
	head    string            // HEAD's line: "ref: refs/heads/<b>" or a SHA
	ref     string            // the branch HEAD names, "" when detached
	sha     string            // the commit it points at ("" on an unborn branch)
	objects string            // the mirror's objects, to borrow
	files   map[string][]byte // index and merge files to copy; nil to delete
}

func (m *Mirror) agentView(admin string) (*agentView, error) {
	b, err := os.ReadFile(filepath.Join(admin, "HEAD"))
	if err != nil {
		return nil, err
	}
	v := &agentView{head: strings.TrimSpace(string(b)), objects: filepath.Join(m.Dir, "objects"), files: map[string][]byte{}}
	if ref, ok := strings.CutPrefix(v.head, "ref: "); ok {
		if !strings.HasPrefix(ref, "refs/heads/") || strings.Contains(ref, "..") {
			return nil, fmt.Errorf("%s: HEAD names %q", admin, ref)
		}
		v.ref = ref
		sha, found, handled := refFromFiles(m.Dir, ref)
		if !handled {
			return nil, fmt.Errorf("%s: cannot read %s", m.Dir, ref)
		}
		if found {
			v.sha = sha
		}
	} else if !isSHA(v.head) {
		return nil, fmt.Errorf("%s: HEAD is %q", admin, v.head)
	}
	for _, name := range append([]string{"index"}, mergeFiles...) {
		b, err := os.ReadFile(filepath.Join(admin, name))
		switch {
		case err == nil:
			v.files[name] = b
		case errors.Is(err, fs.ErrNotExist):
			v.files[name] = nil
		default:
			return nil, err
		}
	}
	return v, nil
}

// write brings the repository under root's .git to the view. One listing
// of .git tells what is there, so that a repository already as shown
// costs a few reads (it is written at every commit of the engine's).
func (v *agentView) write(root *os.Root) error {
	have, err := gitEntries(root)
	if err != nil {
		return err
	}
	if !have["objects"] || !have["refs"] {
		for _, d := range []string{".git/objects/info", ".git/refs/heads", ".git/refs/tags"} {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
	}
	if !have["config"] {
		if err := writeIfChanged(root, ".git/config", []byte(agentConfig)); err != nil {
			return err
		}
	}
	for _, name := range staleFiles {
		if have[name] {
			if err := root.RemoveAll(".git/" + name); err != nil {
				return err
			}
		}
	}
	if err := writeMaking(root, ".git/objects/info/alternates", []byte(v.objects+"\n")); err != nil {
		return err
	}
	if v.ref != "" && v.sha != "" {
		ref := ".git/" + v.ref
		if fi, err := root.Lstat(ref); err == nil && fi.IsDir() {
			if err := root.RemoveAll(ref); err != nil {
				return err
			}
		}
		if err := writeMaking(root, ref, []byte(v.sha+"\n")); err != nil {
			return err
		}
	}
	if err := writeIfChanged(root, ".git/HEAD", []byte(v.head+"\n")); err != nil {
		return err
	}
	for name, body := range v.files {
		switch {
		case body != nil:
			err = writeIfChanged(root, ".git/"+name, body)
		case have[name]:
			err = root.RemoveAll(".git/" + name)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// gitEntries lists root's .git, made if missing.
func gitEntries(root *os.Root) (map[string]bool, error) {
	if err := root.Mkdir(".git", 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	d, err := root.Open(".git")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	have := make(map[string]bool, len(names))
	for _, n := range names {
		have[n] = true
	}
	return have, nil
}

// writeMaking is writeIfChanged that makes the file's directory first
// when it is missing.
func writeMaking(root *os.Root, name string, body []byte) error {
	err := writeIfChanged(root, name, body)
	if errors.Is(err, fs.ErrNotExist) {
		if err = root.MkdirAll(filepath.Dir(name), 0o755); err == nil {
			err = writeIfChanged(root, name, body)
		}
	}
	return err
}

// writeIfChanged writes a file under root, aside and renamed into place
// (a rename replaces a symlink rather than following it), unless it
// already holds body.
func writeIfChanged(root *os.Root, name string, body []byte) error {
	if fi, err := root.Lstat(name); err == nil && fi.Mode().IsRegular() && fi.Size() == int64(len(body)) {
		if b, err := root.ReadFile(name); err == nil && bytes.Equal(b, body) {
			return nil
		}
	}
	tmp := name + ".agentorg-new"
	if err := root.RemoveAll(tmp); err != nil {
		return err
	}
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, name)
	}
	if err != nil {
		root.Remove(tmp)
	}
	return err
}

// mergeAbandoned reports that the agent gave up the merge the engine
// started in dir (`git merge --abort` in its repository): no merge is
// shown there any more and its HEAD is still the engine's commit head. It
// is only a hint, read from the agent's repository: it can only keep the
// engine from recording a merge, never make it record one. Anything it
// cannot read for sure means "not abandoned".
func mergeAbandoned(dir, head string) bool {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return false
	}
	defer root.Close()
	if _, err := root.Lstat(".git/MERGE_HEAD"); !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	b, err := root.ReadFile(".git/HEAD")
	if err != nil {
		return false
	}
	v := strings.TrimSpace(string(b))
	if ref, ok := strings.CutPrefix(v, "ref: "); ok {
		if !strings.HasPrefix(ref, "refs/heads/") || strings.Contains(ref, "..") {
			return false
		}
		if b, err = root.ReadFile(".git/" + ref); err != nil {
			return false
		}
		v = strings.TrimSpace(string(b))
	}
	return v == head
}
