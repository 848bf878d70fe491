package homedir_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/homedir"
	"github.com/agentorg/agentorg/sample"
	"github.com/agentorg/agentorg/store/storetest"
	"github.com/agentorg/agentorg/workspace"
)

const target = "refs/remotes/origin/main"

// worker is one home of a database several share: its Owners and mirror.
type worker struct {
	home   string
	owners *homedir.Owners
	mirror *workspace.Mirror
}

// workers makes two homes, with workers ids a and b, on db, each with a
// mirror of one origin.
func workers(t *testing.T, db *sql.DB) (a, b worker, origin string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	_, origin, err := sample.Make(ctx, filepath.Join(dir, "sample"), nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := homedir.Identify(ctx, db, filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	make := func(name string) worker {
		home := filepath.Join(dir, name)
		m, err := workspace.OpenMirror(ctx, homedir.Mirror(home), origin)
		if err != nil {
			t.Fatal(err)
		}
		return worker{home: home, mirror: m, owners: &homedir.Owners{DB: db, Home: home, ID: id, Worker: "worker-" + name}}
	}
	return make("a"), make("b"), origin
}

func (w worker) path(n int64) string {
	return filepath.Join(homedir.Worktrees(w.home), fmt.Sprintf("issue-%d", n))
}

// open prepares, opens and marks issue n's worktree on w, as the
// developer does, from base.
func (w worker) open(t *testing.T, n int64, base string) (*workspace.Worktree, []string) {
	t.Helper()
	ctx := context.Background()
	branch := fmt.Sprintf("agentorg/issue-%d", n)
	moved, err := w.owners.Prepare(ctx, w.mirror, n, w.path(n), branch)
	if err != nil {
		t.Fatal(err)
	}
	wt, _, err := w.mirror.Worktree(ctx, w.path(n), branch, base)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.owners.Mark(ctx, n, wt.Path); err != nil {
		t.Fatal(err)
	}
	return wt, moved
}

func holder(t *testing.T, db *sql.DB, n int64) string {
	t.Helper()
	who, ok, err := homedir.Holder(context.Background(), db, n)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return "(none)"
	}
	return who
}

func commitFile(t *testing.T, wt *workspace.Worktree, name, content string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(wt.Path, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	sha, _, err := wt.CommitAll(context.Background(), "work on "+name, workspace.Identity{Name: "bot", Email: "bot@agentorg.invalid"})
	if err != nil {
		t.Fatal(err)
	}
	return sha
}

// An issue changes hands between two workers of one database: the row
// names the worker holding it, the work travels as a bundle kept in the
// database, and the worker that held it, back, moves its stale worktree
// and branch aside rather than reuse them (docs/lifecycle.md I21).
func TestAnIssueChangesWorkersWithItsWork(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sql.DB) {
		ctx := context.Background()
		a, b, _ := workers(t, db)
		const n = 5
		if got := holder(t, db, n); got != "(none)" {
			t.Fatalf("holder of a new issue: %s", got)
		}
		wtA, moved := a.open(t, n, target)
		if len(moved) != 0 {
			t.Fatalf("a new issue moved things aside: %v", moved)
		}
		sha := commitFile(t, wtA, "feature.txt", "worker a's work\n")
		kept, err := a.owners.KeepWork(ctx, a.mirror, n, 1, sha, target)
		if err != nil {
			t.Fatal(err)
		}
		if kept.TooLarge || kept.Size == 0 || len(kept.Bundle) == 0 {
			t.Fatalf("kept %+v", kept)
		}
		if got := holder(t, db, n); got != "worker-a" {
			t.Fatalf("holder = %s, want worker-a", got)
		}

		// Worker b takes the issue over: the work comes from the database.
		w, ok, err := b.owners.LastWork(ctx, n)
		if err != nil || !ok {
			t.Fatalf("LastWork = %v, %v", ok, err)
		}
		if w.SHA != sha || w.Attempt != 1 || w.Worker != "worker-a" || string(w.Bundle) != string(kept.Bundle) {
			t.Fatalf("LastWork = attempt %d %s by %s (%d bytes), want attempt 1 %s by worker-a (%d bytes)", w.Attempt, w.SHA, w.Worker, len(w.Bundle), sha, len(kept.Bundle))
		}
		if err := b.owners.ImportWork(ctx, b.mirror, w); err != nil {
			t.Fatal(err)
		}
		wtB, moved := b.open(t, n, sha)
		if len(moved) != 0 {
			t.Fatalf("worker b had nothing to move aside, moved %v", moved)
		}
		if got, _ := os.ReadFile(filepath.Join(wtB.Path, "feature.txt")); string(got) != "worker a's work\n" {
			t.Fatalf("worker b's worktree holds %q", got)
		}
		if got := holder(t, db, n); got != "worker-b" {
			t.Fatalf("holder = %s, want worker-b", got)
		}
		if mine, err := b.owners.Owns(ctx, n, wtB.Path); err != nil || !mine {
			t.Errorf("worker b does not own its worktree: %v, %v", mine, err)
		}
		if mine, err := a.owners.Owns(ctx, n, wtA.Path); err != nil || mine {
			t.Errorf("worker a still owns its stale worktree: %v, %v", mine, err)
		}
		// Marking the stale worktree is refused: a late run of worker a's
		// must not carry on there.
		if err := a.owners.Mark(ctx, n, wtA.Path); err == nil || !strings.Contains(err.Error(), "worker-b holds") {
			t.Errorf("Mark by a worker that no longer holds the issue: %v", err)
		}

		// Worker a comes back to the issue: its worktree and branch are
		// stale, moved aside, never reused.
		shaB := commitFile(t, wtB, "more.txt", "worker b's work\n")
		w2, err := b.owners.KeepWork(ctx, b.mirror, n, 2, shaB, target)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.owners.ImportWork(ctx, a.mirror, w2); err != nil {
			t.Fatal(err)
		}
		wtA2, moved := a.open(t, n, shaB)
		if len(moved) != 2 || !strings.Contains(moved[0], "is stale") || !strings.Contains(moved[0], "worker-b") ||
			!strings.Contains(moved[1], "renamed agentorg-aside/") {
			t.Fatalf("moved aside: %q", moved)
		}
		aside, _ := filepath.Glob(filepath.Join(homedir.Aside(a.home), "issue-5-*"))
		if len(aside) != 1 {
			t.Fatalf("aside: %v", aside)
		}
		if _, err := os.Stat(filepath.Join(aside[0], "feature.txt")); err != nil {
			t.Errorf("the stale worktree moved aside lost its file: %v", err)
		}
		if head, _ := wtA2.Head(ctx); head != shaB {
			t.Errorf("worker a's new worktree is at %s, want worker b's work %s", head, shaB)
		}
		if got := holder(t, db, n); got != "worker-a" {
			t.Fatalf("holder = %s, want worker-a", got)
		}
	})
}

// A bundle over the cap is recorded as too large, without its bytes, and
// importing it says so; a newer attempt's work replaces an older one's,
// never the reverse; work the target holds needs no bundle.
func TestKeptWorkIsBoundedAndTheNewest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *sql.DB) {
		ctx := context.Background()
		a, b, _ := workers(t, db)
		const n = 7
		wt, _ := a.open(t, n, target)
		first := commitFile(t, wt, "one.txt", strings.Repeat("x", 4096))
		second := commitFile(t, wt, "two.txt", "two\n")
		if _, err := a.owners.KeepWork(ctx, a.mirror, n, 2, second, target); err != nil {
			t.Fatal(err)
		}
		if _, err := a.owners.KeepWork(ctx, a.mirror, n, 1, first, target); err != nil {
			t.Fatal(err)
		}
		if w, _, _ := a.owners.LastWork(ctx, n); w.Attempt != 2 || w.SHA != second {
			t.Fatalf("an older attempt's work replaced the newer: attempt %d %s", w.Attempt, w.SHA)
		}

		a.owners.MaxBundle = 64
		kept, err := a.owners.KeepWork(ctx, a.mirror, n, 3, second, target)
		if err != nil {
			t.Fatal(err)
		}
		if !kept.TooLarge || kept.Bundle != nil || kept.Size <= 64 {
			t.Fatalf("a bundle over the cap: %+v", kept)
		}
		w, ok, err := b.owners.LastWork(ctx, n)
		if err != nil || !ok || !w.TooLarge || w.Bundle != nil || w.Attempt != 3 {
			t.Fatalf("LastWork = %+v, %v, %v", w, ok, err)
		}
		err = b.owners.ImportWork(ctx, b.mirror, w)
		if err == nil || !strings.Contains(err.Error(), "over the cap") {
			t.Fatalf("ImportWork of a bundle too large: %v", err)
		}

		// Work the target holds already: nothing to bundle, nothing to import.
		onTarget, _, err := a.mirror.OriginBranch(ctx, "main")
		if err != nil {
			t.Fatal(err)
		}
		kept, err = a.owners.KeepWork(ctx, a.mirror, n, 4, onTarget, target)
		if err != nil || kept.Size != 0 || kept.TooLarge {
			t.Fatalf("KeepWork of the target's commit = %+v, %v", kept, err)
		}
		w, _, _ = b.owners.LastWork(ctx, n)
		if err := b.owners.ImportWork(ctx, b.mirror, w); err != nil {
			t.Fatalf("ImportWork of the target's commit: %v", err)
		}
	})
}

// A home's database made before workers were told apart gets the worker
// column; its rows name no worker (no holder for the engine to route to),
// and the worktrees they mark stay the home's, which the row names from
// the next Mark on.
func TestRowsFromBeforeWorkersStayTheHomes(t *testing.T) {
	storetest.Each(t, rowsFromBeforeWorkers)
}

func rowsFromBeforeWorkers(t *testing.T, db *sql.DB) {
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE agentorg_worktrees (
	issue      INTEGER PRIMARY KEY,
	branch     TEXT NOT NULL,
	token      TEXT NOT NULL,
	pushed     INTEGER NOT NULL DEFAULT 0,
	created_at TEXT NOT NULL
);`); err != nil {
		t.Fatal(err)
	}
	a, _, _ := workers(t, db)
	a.owners.Worker = "" // a home of its own: its identity is its worker id
	wt, _ := a.open(t, 3, target)
	// As an older agentorg left it: no worker in the row, the identity's
	// id in the marker.
	if _, err := db.ExecContext(ctx, `UPDATE agentorg_worktrees SET worker = '' WHERE issue = 3`); err != nil {
		t.Fatal(err)
	}
	if got := holder(t, db, 3); got != "(none)" {
		t.Fatalf("holder of a row from before workers: %s", got)
	}
	if mine, err := a.owners.Owns(ctx, 3, wt.Path); err != nil || !mine {
		t.Fatalf("the home no longer owns its worktree: %v, %v", mine, err)
	}
	if _, moved := a.open(t, 3, target); len(moved) != 0 {
		t.Fatalf("the home's own worktree was moved aside: %v", moved)
	}
	if got := holder(t, db, 3); got != a.owners.ID.ID {
		t.Fatalf("holder after Mark = %s, want the identity's id %s", got, a.owners.ID.ID)
	}
}
