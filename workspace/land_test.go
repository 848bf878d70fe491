package workspace

import (
	"errors"
	"testing"

	"github.com/agentorg/agentorg"
)

// trainFixture has two merge request branches on the origin, and a mirror
// that fetched main only, as the engine's does.
type trainFixture struct {
	*fixture
	m      *Mirror
	a, b   string // the heads of agentorg/issue-1 and agentorg/issue-2
	mainAt string
}

func newTrainFixture(t *testing.T) *trainFixture {
	t.Helper()
	f := newFixture(t)
	tf := &trainFixture{fixture: f, mainAt: f.base}
	tf.a = f.commit(t, "agentorg/issue-1", f.base, map[string]string{"a.txt": "a\n"}, "a")
	tf.b = f.commit(t, "agentorg/issue-2", f.base, map[string]string{"b.txt": "b\n"}, "b")
	tf.m = f.mirror(t)
	tf.m.Branches = []string{"main"}
	// The mirror has the heads (the developer made them there).
	g(t, tf.m.Dir, "fetch", "--quiet", "origin", "refs/heads/agentorg/*:refs/heads/agentorg/*")
	return tf
}

// build stacks the heads on main in the mirror, as a merge train does.
func (tf *trainFixture) build(t *testing.T, heads ...string) []string {
	t.Helper()
	tip := tf.mainAt
	var commits []string
	for _, h := range heads {
		c, conflicts, err := tf.m.MergeCommit(ctx, tip, h, "Merge "+h[:7], merger)
		if err != nil || len(conflicts) > 0 {
			t.Fatalf("merge commit: %v %v", conflicts, err)
		}
		commits = append(commits, c)
		tip = c
	}
	return commits
}

func TestLandMergeLandsTheValidatedCommits(t *testing.T) {
	tf := newTrainFixture(t)
	built := tf.build(t, tf.a, tf.b)
	if err := tf.m.SendObjects(ctx, built[1]); err != nil {
		t.Fatal(err)
	}
	got, err := LandMerge(ctx, tf.origin, "agentorg/issue-1", "main", tf.a, tf.base, built[0], "Merge a", merger)
	if err != nil || got != built[0] {
		t.Fatalf("LandMerge = %s, %v; want %s", got, err, built[0])
	}
	got, err = LandMerge(ctx, tf.origin, "agentorg/issue-2", "main", tf.b, built[0], built[1], "Merge b", merger)
	if err != nil || got != built[1] {
		t.Fatalf("LandMerge = %s, %v; want %s", got, err, built[1])
	}
	if head := tf.originHead(t, "main"); head != built[1] {
		t.Fatalf("main is %s, want the validated %s", head, built[1])
	}
	for _, b := range []string{"agentorg/issue-1", "agentorg/issue-2"} {
		if _, err := git(ctx, tf.origin, "rev-parse", "--verify", "--quiet", "refs/heads/"+b); err == nil {
			t.Fatalf("the landed branch %s is still on the origin", b)
		}
	}
	connected(t, tf.origin)

	// A retry after a crash lands nothing twice, even with the target
	// moved on since.
	again, err := LandMerge(ctx, tf.origin, "agentorg/issue-1", "main", tf.a, tf.base, built[0], "Merge a", merger)
	if err != nil || again != built[0] {
		t.Fatalf("retry = %s, %v; want %s", again, err, built[0])
	}
	if head := tf.originHead(t, "main"); head != built[1] {
		t.Fatalf("the retry moved main to %s", head)
	}
	// A train rebuilt after that crash merges a onto a target that holds
	// it: a merge that changes nothing, which must not land.
	tf.mainAt = built[1]
	noop := tf.build(t, tf.a)[0]
	if err := tf.m.SendObjects(ctx, noop); err != nil {
		t.Fatal(err)
	}
	again, err = LandMerge(ctx, tf.origin, "agentorg/issue-1", "main", tf.a, built[1], noop, "Merge a", merger)
	if err != nil || again != built[0] {
		t.Fatalf("landing a merged head again = %s, %v; want %s", again, err, built[0])
	}
	if head := tf.originHead(t, "main"); head != built[1] {
		t.Fatalf("a merge that changes nothing landed: main is %s", head)
	}
}

func TestLandMergeRefusals(t *testing.T) {
	tf := newTrainFixture(t)
	built := tf.build(t, tf.a, tf.b)
	if err := tf.m.SendObjects(ctx, built[1]); err != nil {
		t.Fatal(err)
	}
	// Not the merge of that request onto that target: b's commit claimed for a.
	if _, err := LandMerge(ctx, tf.origin, "agentorg/issue-1", "main", tf.a, tf.base, built[1], "m", merger); err == nil ||
		errors.Is(err, agentorg.ErrTargetMoved) || errors.Is(err, agentorg.ErrHeadMoved) {
		t.Fatalf("landed a commit with other parents: %v", err)
	}
	// The head moved after validation.
	moved := tf.commit(t, "agentorg/issue-1", tf.a, map[string]string{"a.txt": "a2\n"}, "a2")
	if _, err := LandMerge(ctx, tf.origin, "agentorg/issue-1", "main", tf.a, tf.base, built[0], "m", merger); !errors.Is(err, agentorg.ErrHeadMoved) {
		t.Fatalf("head moved: %v", err)
	}
	// The target moved after validation.
	other := tf.commit(t, "main", tf.base, map[string]string{"o.txt": "o\n"}, "other")
	onBase := tf.build(t, tf.b)[0]
	if err := tf.m.SendObjects(ctx, onBase); err != nil {
		t.Fatal(err)
	}
	if _, err := LandMerge(ctx, tf.origin, "agentorg/issue-2", "main", tf.b, tf.base, onBase, "m", merger); !errors.Is(err, agentorg.ErrTargetMoved) {
		t.Fatalf("target moved: %v", err)
	}
	if head := tf.originHead(t, "main"); head != other {
		t.Fatalf("main moved to %s", head)
	}
	if head := tf.originHead(t, "agentorg/issue-1"); head != moved {
		t.Fatalf("issue-1 moved to %s", head)
	}
	connected(t, tf.origin)
}

func TestSendObjectsNeedsABareLocalOrigin(t *testing.T) {
	f := newFixture(t)
	_, m := nonBareOrigin(t, f)
	if err := m.SendObjects(ctx, f.base); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("SendObjects to a non-bare origin: %v", err)
	}
}
