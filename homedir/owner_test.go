package homedir

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg/store"
	"github.com/agentorg/agentorg/store/storetest"
	"github.com/agentorg/agentorg/workspace"
)

// git runs git in dir with an environment of its own (no global config).
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=T", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=T", "GIT_COMMITTER_EMAIL=t@example.com"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// originWithMain makes a bare origin with one commit on main and a clone
// to push from.
func originWithMain(t *testing.T) (origin, seed string) {
	t.Helper()
	root := t.TempDir()
	origin, seed = filepath.Join(root, "origin.git"), filepath.Join(root, "seed")
	git(t, root, "init", "--quiet", "--bare", "-b", "main", origin)
	git(t, root, "init", "--quiet", "-b", "main", seed)
	if err := os.WriteFile(filepath.Join(seed, "README"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, seed, "add", "README")
	git(t, seed, "commit", "--quiet", "-m", "initial")
	git(t, seed, "push", "--quiet", origin, "main")
	return origin, seed
}

// Which worktrees and branches a home made, kept in its database: on
// each database, what the home records it reads back (a worktree it made
// is its own; one it did not make is moved aside; a branch it pushed may
// be pushed again, another's never).
func TestOwners(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d.String(), func(t *testing.T) { owners(t, d) })
	}
}

func owners(t *testing.T, d store.Dialect) {
	ctx := context.Background()
	db := storetest.Open(t, d).SQL
	home := t.TempDir()
	origin, seed := originWithMain(t)
	m, err := workspace.OpenMirror(ctx, Mirror(home), origin)
	if err != nil {
		t.Fatal(err)
	}
	base, err := m.RemoteHead(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	id, err := Identify(ctx, db, home)
	if err != nil {
		t.Fatal(err)
	}
	id.AdoptThrough = 5 // as if an older agentorg had worked on #1 to #5
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	o := &Owners{DB: db, Home: home, ID: id, Now: func() time.Time { return now }}
	path := func(n string) string { return filepath.Join(Worktrees(home), "issue-"+n) }

	// #6: nothing there; the home records it, makes and marks it: its own.
	said, err := o.Prepare(ctx, m, 6, path("6"), "agentorg/issue-6")
	if err != nil || len(said) != 0 {
		t.Fatalf("Prepare(#6): %v %v", said, err)
	}
	if _, _, err := m.Worktree(ctx, path("6"), "agentorg/issue-6", base); err != nil {
		t.Fatal(err)
	}
	if err := o.Mark(ctx, 6, path("6")); err != nil {
		t.Fatal(err)
	}
	if own, err := o.Owns(ctx, 6, path("6")); err != nil || !own {
		t.Fatalf("Owns(#6) = %v %v", own, err)
	}
	w6, ok, err := o.row(ctx, 6)
	if err != nil || !ok || w6.pushed || len(w6.token) != 24 {
		t.Fatalf("#6's row: %+v %v %v", w6, ok, err)
	}
	if said, err := o.Prepare(ctx, m, 6, path("6"), "agentorg/issue-6"); err != nil || len(said) != 0 {
		t.Fatalf("Prepare(#6) again: %v %v; its own worktree stays", said, err)
	}
	// Pushed once: recorded, so the next push needs no look at the origin.
	if err := o.MayPush(ctx, m, 6, "agentorg/issue-6"); err != nil {
		t.Fatal(err)
	}
	if w, _, _ := o.row(ctx, 6); !w.pushed || w.token != w6.token {
		t.Fatalf("#6 after its push: %+v", w)
	}
	git(t, seed, "push", "--quiet", origin, "main:refs/heads/agentorg/issue-6")
	if err := o.MayPush(ctx, m, 6, "agentorg/issue-6"); err != nil {
		t.Fatalf("pushing #6's branch again: %v", err)
	}

	// #7: a worktree and a branch this home did not make (as after a
	// restore): both moved aside, and #7 is the home's from then on.
	if _, _, err := m.Worktree(ctx, path("7"), "agentorg/issue-7", base); err != nil {
		t.Fatal(err)
	}
	if own, err := o.Owns(ctx, 7, path("7")); err != nil || own {
		t.Fatalf("Owns(#7) before Prepare = %v %v", own, err)
	}
	said, err = o.Prepare(ctx, m, 7, path("7"), "agentorg/issue-7")
	if err != nil || len(said) != 2 || !strings.Contains(said[0], "moved aside") || !strings.Contains(said[1], "renamed agentorg-aside/") {
		t.Fatalf("Prepare(#7): %q %v", said, err)
	}
	if _, err := os.Stat(path("7")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("#7's foreign worktree is still in place: %v", err)
	}
	w7, ok, err := o.row(ctx, 7)
	if err != nil || !ok || w7.pushed || w7.token == w6.token {
		t.Fatalf("#7's row: %+v %v %v", w7, ok, err)
	}

	// #8: the origin has its branch, which this home never pushed.
	git(t, seed, "push", "--quiet", origin, "main:refs/heads/agentorg/issue-8")
	var foreign *ForeignBranchError
	if err := o.MayPush(ctx, m, 8, "agentorg/issue-8"); !errors.As(err, &foreign) || foreign.Issue != 8 {
		t.Fatalf("MayPush(#8) = %v, want a ForeignBranchError", err)
	}
	if _, ok, _ := o.row(ctx, 8); ok {
		t.Fatal("a refused push recorded #8")
	}
	// #9: no branch there: the push is allowed and recorded as pushed.
	if err := o.MayPush(ctx, m, 9, "agentorg/issue-9"); err != nil {
		t.Fatal(err)
	}
	if w, ok, _ := o.row(ctx, 9); !ok || !w.pushed {
		t.Fatalf("#9 after MayPush: %+v %v", w, ok)
	}

	// #4, worked on before homes had an identity: adopted, pushed.
	if own, err := o.Owns(ctx, 4, path("4")); err != nil || !own {
		t.Fatalf("Owns(#4) = %v %v", own, err)
	}
	if said, err := o.Prepare(ctx, m, 4, path("4"), "agentorg/issue-4"); err != nil || len(said) != 0 {
		t.Fatalf("Prepare(#4): %v %v", said, err)
	}
	if w, ok, _ := o.row(ctx, 4); !ok || !w.pushed {
		t.Fatalf("#4 adopted: %+v %v", w, ok)
	}
	git(t, seed, "push", "--quiet", origin, "main:refs/heads/agentorg/issue-3")
	if err := o.MayPush(ctx, m, 3, "agentorg/issue-3"); err != nil {
		t.Fatalf("MayPush(#3), adopted: %v", err)
	}

	// Recording a worktree again keeps that its branch was pushed.
	if _, err := o.record(ctx, 6, "agentorg/issue-6", false); err != nil {
		t.Fatal(err)
	}
	if w, _, _ := o.row(ctx, 6); !w.pushed || w.token == w6.token {
		t.Fatalf("#6 recorded again: %+v", w)
	}
	var created string
	if err := db.QueryRowContext(ctx, `SELECT created_at FROM agentorg_worktrees WHERE issue = ?`, 6).Scan(&created); err != nil || created != "2026-12-07T10:00:00Z" {
		t.Fatalf("#6 created at %q, %v", created, err)
	}
}
