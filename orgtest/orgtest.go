// Package orgtest builds a whole organization for tests: a real sample git
// repository, a workflow whose agents are the scripted agent (run as a real
// subprocess: the test binary itself), an opened home and an engine tuned
// for quick heartbeats. The tracker is the embedded one, or a fake GitLab
// (Options.GitLab), with the humans acting through a client of their own.
package orgtest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/scripted"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/engine"
	"github.com/agentorg/agentorg/human"
	"github.com/agentorg/agentorg/sample"
	"github.com/agentorg/agentorg/sandbox"
	"github.com/agentorg/agentorg/sqlitedb"
	"github.com/agentorg/agentorg/tracker/gitlab"
	"github.com/agentorg/agentorg/tracker/gitlab/gitlabfake"
	"github.com/agentorg/agentorg/workflow"
)

// Main is a TestMain that lets the test binary double as the scripted agent
// (`<test binary> scripted-agent --script F` runs the agent instead of
// tests) and as the confine helper every confined agent and check starts
// through (package sandbox).
func Main(m *testing.M) {
	sandbox.Main()
	if len(os.Args) > 1 && os.Args[1] == "scripted-agent" {
		os.Exit(scripted.Main(os.Args[2:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
	}
	os.Exit(m.Run())
}

// Options shape the organization.
type Options struct {
	// Script is the scripted agent's script (YAML).
	Script string
	// Check and E2E commands; defaults "go vet ./... && go test ./..." and
	// "go test -count=1 ./...".
	Check, E2E string
	// Edit rewrites the default workflow text before it is committed.
	Edit func(string) string
	// Agent is the executable run as `AGENT scripted-agent ...`; default
	// the test binary (see Main).
	Agent string
	// Unconfined runs agents, checks and the E2E command unconfined
	// (confinement: off), for a test whose agent or check stands in for
	// something outside the organization: a teammate pushing to the
	// origin, a counter kept outside the checkout.
	Unconfined bool
	// GitLab, when set, is the tracker: the workflow's tracker.kind is
	// gitlab at the fake's project, which gets the sample repository. The
	// fake should know the users the test acts as (AddUser).
	GitLab *gitlabfake.Server
}

// Org is an organization under test.
type Org struct {
	*app.Org
	Dir      string // holds sample/ and home/
	Repo     string // the clone that holds the workflow
	Origin   string // the bare origin
	WFPath   string
	Sessions string // the scripted agent's session state
	// People is the tracker as the humans use it: it acts as the author or
	// actor a call names. On the embedded tracker it is Tracker; on GitLab a
	// client of its own (an administrator's token and Sudo), as people act
	// in GitLab itself rather than through the bot.
	People agentorg.Tracker
	// Humans is the desk the humans approve, opt in and comment through,
	// over People.
	Humans *human.Desk
}

// New builds the sample repository and opens its home. The caller starts an
// engine with Engine.
func New(t testing.TB, o Options) *Org {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	if o.Check == "" {
		o.Check = "go vet ./... && go test ./..."
	}
	if o.E2E == "" {
		o.E2E = "go test -count=1 ./..."
	}
	agent := o.Agent
	if agent == "" {
		agent = os.Args[0]
	}
	script := filepath.Join(dir, "script.yaml")
	if err := os.WriteFile(script, []byte(o.Script), 0o644); err != nil {
		t.Fatal(err)
	}
	sessions := filepath.Join(dir, "sessions")
	if err := os.MkdirAll(sessions, 0o755); err != nil {
		t.Fatal(err)
	}
	text := string(workflow.Default(workflow.DefaultOptions{
		Approvers: []string{"alice"}, TargetBranch: "main", RepoURL: "../origin.git", Check: o.Check, E2E: o.E2E,
		AgentCommand: []string{agent, "scripted-agent", "--script", script, "--state", sessions},
		// The scripted agent keeps its sessions there, confined or not.
		Agent: workflow.AgentOptions{Writable: []string{sessions + "/"}},
	}))
	if o.Unconfined {
		text = strings.Replace(text, "\nconfinement: required\n", "\nconfinement: off\n", 1)
	}
	if o.Edit != nil {
		text = o.Edit(text)
	}
	if o.GitLab != nil {
		t.Setenv(gitlabTokenEnv, gitlabfake.Token)
		text = strings.Replace(text, "  kind: embedded\n", "  kind: gitlab\n  gitlab:\n    url: "+o.GitLab.URL+
			"\n    project: "+o.GitLab.ProjectPath+"\n    token: $"+gitlabTokenEnv+"\n", 1)
	}
	repo, origin, err := sample.Make(ctx, filepath.Join(dir, "sample"), map[string]string{workflow.DefaultPath: text})
	if err != nil {
		t.Fatal(err)
	}
	wfPath := filepath.Join(repo, workflow.DefaultPath)
	org, err := app.Open(ctx, app.Options{Home: filepath.Join(dir, "home"), Workflow: wfPath})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { org.Close() })
	out := &Org{Org: org, Dir: dir, Repo: repo, Origin: origin, WFPath: wfPath, Sessions: sessions, People: org.Tracker, Humans: org.Desk}
	if o.GitLab != nil {
		out.onGitLab(t, o.GitLab)
	}
	return out
}

// gitlabTokenEnv holds the fake's token for the workflow to read.
const gitlabTokenEnv = "AGENTORG_TEST_FAKE_GITLAB_TOKEN"

// onGitLab gives the fake project the sample repository and the humans a
// GitLab client of their own.
func (o *Org) onGitLab(t testing.TB, fake *gitlabfake.Server) {
	t.Helper()
	if _, ok := o.Tracker.(*gitlab.Tracker); !ok {
		t.Fatalf("the workflow's tracker.kind gitlab opened a %T", o.Tracker)
	}
	Git(t, o.Origin, "push", "--quiet", "--force", fake.Repo, "main:main")
	db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "humans.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	people, err := gitlab.New(context.Background(), gitlab.Options{BaseURL: fake.URL, Project: fake.ProjectPath,
		Token: gitlabfake.Token, Bot: o.Workflow.Tracker.Bot, Sudo: true, DB: db})
	if err != nil {
		t.Fatal(err)
	}
	o.People = people
	o.Humans = &human.Desk{Workflow: o.Workflow, Tracker: people, Log: o.Log}
}

// Engine builds and starts an engine with quick heartbeats and retries, and
// stops it when the test ends.
func (o *Org) Engine(t *testing.T, eo app.EngineOptions) *engine.Engine {
	t.Helper()
	if eo.Heartbeat == 0 {
		eo.Heartbeat = 100 * time.Millisecond
	}
	if eo.RetryDelay == 0 {
		eo.RetryDelay = 50 * time.Millisecond
	}
	ctx := context.Background()
	eng, err := o.Org.Engine(ctx, eo)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		eng.Stop(stopCtx)
	})
	return eng
}

// RunUntilIdle runs the engine until nothing is actionable, failing the
// test after a minute.
func RunUntilIdle(t *testing.T, eng *engine.Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := eng.RunUntilIdle(ctx); err != nil {
		t.Fatalf("engine: %v", err)
	}
}

// Git runs git in dir and returns its trimmed output.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := sample.Git(context.Background(), dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
