package gitlab_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/agentorg/agentorg/sqlitedb"
	"github.com/agentorg/agentorg/tracker/gitlab"
	"github.com/agentorg/agentorg/tracker/trackertest"
)

// TestContractLive runs the contract suite against a real GitLab. It needs
//
//	AGENTORG_TEST_GITLAB_URL      the instance, e.g. https://gitlab.example.com
//	AGENTORG_TEST_GITLAB_TOKEN    an administrator's token with the api, sudo and
//	                              write_repository scopes (the suite acts as
//	                              several people through Sudo)
//	AGENTORG_TEST_GITLAB_PROJECT  the namespace (group or user path) where each
//	                              subtest creates, then deletes, a scratch project
//
// and users named alice, bob, carol, dave, mallory, reviewer, second, dev,
// dev2, merger, engine and a, with access to that namespace.
func TestContractLive(t *testing.T) {
	base, token, ns := os.Getenv("AGENTORG_TEST_GITLAB_URL"), os.Getenv("AGENTORG_TEST_GITLAB_TOKEN"), os.Getenv("AGENTORG_TEST_GITLAB_PROJECT")
	if base == "" || token == "" || ns == "" {
		t.Skip("set AGENTORG_TEST_GITLAB_URL, AGENTORG_TEST_GITLAB_TOKEN and AGENTORG_TEST_GITLAB_PROJECT to run the contract suite against a live GitLab (see the README)")
	}
	admin, err := gl.NewClient(token, gl.WithBaseURL(base))
	if err != nil {
		t.Fatal(err)
	}
	space, _, err := admin.Namespaces.GetNamespace(ns)
	if err != nil {
		t.Fatalf("namespace %s: %v", ns, err)
	}
	trackertest.Run(t, func(t *testing.T) trackertest.Harness {
		suffix := make([]byte, 4)
		rand.Read(suffix)
		name := "agentorg-contract-" + hex.EncodeToString(suffix)
		p, _, err := admin.Projects.CreateProject(&gl.CreateProjectOptions{Name: &name, Path: &name, NamespaceID: &space.ID,
			InitializeWithReadme: ptr(true), DefaultBranch: ptr("main"), Visibility: ptr(gl.PrivateVisibility)})
		if err != nil {
			t.Fatalf("create scratch project: %v", err)
		}
		t.Cleanup(func() { admin.Projects.DeleteProject(p.ID, nil) })
		db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "agentorg.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		tr, err := gitlab.New(t.Context(), gitlab.Options{BaseURL: base, Project: p.PathWithNamespace, Token: token, Bot: "agentorg", Sudo: true, DB: db})
		if err != nil {
			t.Fatal(err)
		}
		return trackertest.Harness{Tracker: tr, Push: livePusher(t, p.HTTPURLToRepo, token), Target: "main",
			File: func(branch string) string { return strings.ReplaceAll(branch, "/", "-") }}
	})
}

func ptr[T any](v T) *T { return &v }

// livePusher commits a file named after the branch and pushes it over HTTPS,
// the token in the environment of git only.
func livePusher(t *testing.T, url, token string) func(t *testing.T, branch string) string {
	dir := filepath.Join(t.TempDir(), "push.git")
	var mu sync.Mutex
	n := 0
	git := func(t *testing.T, stdin string, args ...string) (string, error) {
		cmd := exec.Command("git", append([]string{"--git-dir", dir}, args...)...)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=T", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=T", "GIT_COMMITTER_EMAIL=t@example.com"},
			gitlab.GitAuthEnv(token)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err
	}
	must := func(t *testing.T, stdin string, args ...string) string {
		t.Helper()
		out, err := git(t, stdin, args...)
		if err != nil {
			t.Fatalf("git %v: %v", args, err)
		}
		return out
	}
	return func(t *testing.T, branch string) string {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if _, err := os.Stat(dir); err != nil {
			if out, err := exec.Command("git", "init", "--quiet", "--bare", dir).CombinedOutput(); err != nil {
				t.Fatalf("git init: %v: %s", err, out)
			}
		}
		n++
		must(t, "", "fetch", "--quiet", url, "+refs/heads/*:refs/heads/*")
		parent, err := git(t, "", "rev-parse", "--verify", "--quiet", "refs/heads/"+branch)
		if err != nil || parent == "" {
			parent = must(t, "", "rev-parse", "refs/heads/main")
		}
		file := strings.ReplaceAll(branch, "/", "-")
		blob := must(t, fmt.Sprintf("%s %d\n", branch, n), "hash-object", "-w", "--stdin")
		var lines []string
		for _, l := range strings.Split(must(t, "", "ls-tree", parent), "\n") {
			if l != "" && !strings.HasSuffix(l, "\t"+file) {
				lines = append(lines, l)
			}
		}
		tree := must(t, strings.Join(append(lines, "100644 blob "+blob+"\t"+file), "\n")+"\n", "mktree")
		commit := must(t, "", "commit-tree", tree, "-p", parent, "-m", "commit on "+branch)
		must(t, "", "push", "--quiet", url, commit+":refs/heads/"+branch)
		return commit
	}
}
