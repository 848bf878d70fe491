package gitlab_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/store"
	"github.com/agentorg/agentorg/store/storetest"
	"github.com/agentorg/agentorg/tracker/gitlab"
	"github.com/agentorg/agentorg/tracker/gitlab/gitlabfake"
	"github.com/agentorg/agentorg/tracker/trackertest"
)

// people the contract suite acts as (through Sudo, as an administrator's
// token may on GitLab).
var people = []string{"alice", "bob", "carol", "dave", "mallory", "reviewer", "second", "dev", "dev2", "merger", "engine", "a"}

type env struct {
	db   *sql.DB
	fake *gitlabfake.Server
	tr   *gitlab.Tracker
	push func(t *testing.T, branch string) string
}

// newEnv starts a fake GitLab and a tracker on it with a budget that
// records its waits instead of sleeping them; the tracker's issue copy is
// in a SQLite database (newEnvOn: of another dialect).
func newEnv(t *testing.T, sudo bool) *env { return newEnvOn(t, sudo, store.SQLite) }

func newEnvOn(t *testing.T, sudo bool, d store.Dialect) *env {
	t.Helper()
	fake := gitlabfake.New(t)
	for _, p := range people {
		fake.AddUser(p, "", false)
	}
	db := storetest.Open(t, d).SQL
	tr, err := gitlab.New(t.Context(), gitlab.Options{
		BaseURL: fake.URL, Project: fake.ProjectPath, Token: gitlabfake.Token, Bot: "agentorg", Sudo: sudo, DB: db,
		Budget: &gitlab.Budget{Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }},
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	push := func(t *testing.T, branch string) string {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		n++
		parent := gitOut(t, fake.Repo, "", "rev-parse", "--verify", "--quiet", "refs/heads/"+branch)
		if parent == "" {
			parent = gitOut(t, fake.Repo, "", "rev-parse", "refs/heads/main")
		}
		base := gitOut(t, fake.Repo, "", "ls-tree", parent)
		file := strings.ReplaceAll(branch, "/", "-")
		blob := gitOut(t, fake.Repo, fmt.Sprintf("%s %d\n", branch, n), "hash-object", "-w", "--stdin")
		var lines []string
		for _, l := range strings.Split(base, "\n") {
			if l != "" && !strings.HasSuffix(l, "\t"+file) {
				lines = append(lines, l)
			}
		}
		lines = append(lines, "100644 blob "+blob+"\t"+file)
		tree := gitOut(t, fake.Repo, strings.Join(lines, "\n")+"\n", "mktree")
		commit := gitOut(t, fake.Repo, "", "commit-tree", tree, "-p", parent, "-m", fmt.Sprintf("commit %d on %s", n, branch))
		gitOut(t, fake.Repo, "", "update-ref", "refs/heads/"+branch, commit)
		return commit
	}
	return &env{db: db, fake: fake, tr: tr, push: push}
}

func gitOut(t *testing.T, dir, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"--git-dir", dir}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin:/usr/local/bin", "HOME=" + t.TempDir(), "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=T", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=T", "GIT_COMMITTER_EMAIL=t@example.com"}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		if len(args) > 0 && args[0] == "rev-parse" && strings.Contains(strings.Join(args, " "), "--quiet") {
			return ""
		}
		t.Fatalf("git %v: %v: %s", args, err, errb.String())
	}
	return strings.TrimSpace(out.String())
}

// eachDialect runs f as a subtest per database the issue copy can be in.
func eachDialect(t *testing.T, f func(t *testing.T, d store.Dialect)) {
	for _, d := range storetest.Dialects {
		t.Run(d.String(), func(t *testing.T) { f(t, d) })
	}
}

// TestContract holds the adapter to the trackers' contract, its issue copy
// in each database agentorg runs on.
func TestContract(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		trackertest.Run(t, func(t *testing.T) trackertest.Harness {
			e := newEnvOn(t, true, d)
			return trackertest.Harness{Tracker: e.tr, Push: e.push, Target: "main",
				File: func(branch string) string { return strings.ReplaceAll(branch, "/", "-") }}
		})
	})
}

var _ agentorg.Tracker = (*gitlab.Tracker)(nil)
