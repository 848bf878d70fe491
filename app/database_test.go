package app

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/pgtest"
	"github.com/agentorg/agentorg/sample"
	"github.com/agentorg/agentorg/workflow"
)

// sampleWorkflow makes a sample repository with init's workflow, its origin
// a bare repository beside it, and returns the workflow's path.
func sampleWorkflow(t *testing.T, dir string) string {
	t.Helper()
	wf := workflow.Default(workflow.DefaultOptions{Approvers: []string{"alice"}, TargetBranch: "main", RepoURL: "../origin.git",
		AgentCommand: []string{"true"}, Check: "true", E2E: "true"})
	repo, _, err := sample.Make(context.Background(), dir, map[string]string{workflow.DefaultPath: string(wf)})
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(repo, workflow.DefaultPath)
}

func mustFail(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("opened; want an error saying %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("error %q does not say %q", err, w)
		}
	}
}

// TestAHomeKeepsToItsDatabase: a home that worked on a PostgreSQL database
// is opened on it only (its worktrees belong to that database's issues);
// a SQLite home is not moved onto one; only postgres:// URLs are taken;
// and the URL's password is never written down.
func TestAHomeKeepsToItsDatabase(t *testing.T) {
	ctx := context.Background()
	url := pgtest.New(t)
	dir := t.TempDir()
	wfPath := sampleWorkflow(t, filepath.Join(dir, "sample"))
	home := filepath.Join(dir, "worker-1")
	none := func(string) string { return "" }

	org, err := Open(ctx, Options{Home: home, Workflow: wfPath, Database: url, Getenv: none})
	if err != nil {
		t.Fatal(err)
	}
	if org.Store.Dialect.String() != "postgres" || org.Worker == "" || org.Worker == org.Identity.ID {
		t.Fatalf("dialect %v, worker %q, identity %q: want postgres and a worker id of the home's own", org.Store.Dialect, org.Worker, org.Identity.ID)
	}
	org.Close()

	_, err = Open(ctx, Options{Home: home, Workflow: wfPath, Getenv: none})
	mustFail(t, err, home, "works on the database", "--database")
	// From the environment, as every command reads it.
	org, err = Open(ctx, Options{Home: home, Workflow: wfPath, Getenv: func(k string) string {
		if k == "AGENTORG_DATABASE" {
			return url
		}
		return ""
	}})
	if err != nil {
		t.Fatalf("AGENTORG_DATABASE: %v", err)
	}
	org.Close()
	other := pgtest.New(t)
	_, err = Open(ctx, Options{Home: home, Workflow: wfPath, Database: other, Getenv: none})
	mustFail(t, err, "works on the database", "give each database its own home")

	sqliteHome := filepath.Join(dir, "solo")
	org, err = Open(ctx, Options{Home: sqliteHome, Workflow: wfPath, Getenv: none})
	if err != nil {
		t.Fatal(err)
	}
	org.Close()
	_, err = Open(ctx, Options{Home: sqliteHome, Workflow: wfPath, Database: url, Getenv: none})
	mustFail(t, err, "its own SQLite file", "new home")

	_, err = Open(ctx, Options{Home: filepath.Join(dir, "w3"), Workflow: wfPath, Database: "mysql://u:hunter2@h/db", Getenv: none})
	mustFail(t, err, "postgres://")
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("the error shows the password: %v", err)
	}
}

// TestWorkersShareOneOrigin: with the embedded tracker, a worker whose
// origin is another path than the organization's is refused, naming both.
func TestWorkersShareOneOrigin(t *testing.T) {
	ctx := context.Background()
	url := pgtest.New(t)
	dir := t.TempDir()
	none := func(string) string { return "" }
	first := sampleWorkflow(t, filepath.Join(dir, "a"))
	org, err := Open(ctx, Options{Home: filepath.Join(dir, "w1"), Workflow: first, Database: url, Getenv: none})
	if err != nil {
		t.Fatal(err)
	}
	org.Close()
	// The same origin from another home: fine.
	org, err = Open(ctx, Options{Home: filepath.Join(dir, "w2"), Workflow: first, Database: url, Getenv: none})
	if err != nil {
		t.Fatal(err)
	}
	org.Close()
	second := sampleWorkflow(t, filepath.Join(dir, "b"))
	_, err = Open(ctx, Options{Home: filepath.Join(dir, "w3"), Workflow: second, Database: url, Getenv: none})
	mustFail(t, err, filepath.Join(dir, "b", "origin.git"), filepath.Join(dir, "a", "origin.git"), "one path")
}
