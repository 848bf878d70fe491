package role_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/role"
	"github.com/agentorg/agentorg/sqlitedb"
	"github.com/agentorg/agentorg/tracker/embedded"
	"github.com/agentorg/agentorg/workflow"
)

// refusingLocker records the names it is asked for and refuses each, as a
// Locker does when the run's context ends while it waits.
type refusingLocker struct {
	mu    sync.Mutex
	names []string
}

var errRefused = errors.New("the lock was not taken")

func (l *refusingLocker) Lock(_ context.Context, name string) (func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.names = append(l.names, name)
	return nil, errRefused
}

// TestRunsTakeTurnsThroughDepsLocker: merge and E2E runs take their turn
// through Deps.Locker, by the target branch's name, and a lock that is not
// taken ends the run with its error (before anything else is done).
func TestRunsTakeTurnsThroughDepsLocker(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlitedb.Open(filepath.Join(dir, "agentorg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	wf, err := workflow.Parse("workflow.yaml", workflow.Default(workflow.DefaultOptions{
		Approvers: []string{"alice"}, TargetBranch: "main", RepoURL: "origin.git",
		AgentCommand: []string{"true"}, Check: "true", E2E: "true",
	}), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	tr := embedded.New(db, embedded.Options{})
	if err := tr.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	log := eventlog.New(db)
	if err := log.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	merge := wf.StagesWithRole(agentorg.RoleMerge)[0]
	e2e := wf.StagesWithRole(agentorg.RoleE2E)[0]
	is, err := tr.CreateIssue(ctx, agentorg.NewIssue{Title: "a change", Labels: []string{merge.On}, Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	// The merge run takes its turn once its merge request is open.
	if _, err := tr.CreateMR(ctx, agentorg.NewMR{Issue: is.Number, Title: "a change", SourceBranch: wf.Branch(is.Number),
		TargetBranch: "main", HeadSHA: "0123456789abcdef0123456789abcdef01234567", Author: wf.Tracker.Bot}); err != nil {
		t.Fatal(err)
	}

	locker := &refusingLocker{}
	d := &role.Deps{Workflow: wf, Tracker: tr, Log: log, Home: dir, Locker: locker}
	for _, st := range []*workflow.Stage{merge, e2e} {
		_, err := role.For(st.Role).Run(ctx, d, &role.Run{ID: st.Name + "-1", Stage: st, Issue: is})
		if !errors.Is(err, errRefused) {
			t.Errorf("the %s run returned %v, want the lock's error", st.Role, err)
		}
	}
	if want := []string{"merge:main", "e2e:main"}; !slices.Equal(locker.names, want) {
		t.Errorf("the runs asked for the locks %q, want %q", locker.names, want)
	}
}
