package gitlab_test

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/tracker/gitlab"
	"github.com/agentorg/agentorg/tracker/gitlab/gitlabfake"
	"github.com/agentorg/agentorg/workspace"
)

// The mirror clones, fetches and pushes over HTTP with the token, and the
// token is in no git argv, no file of the mirror, and no error message.
// Not parallel: it puts a spy git first on PATH.
func TestPushKeepsTheTokenOutOfArgvFilesAndErrors(t *testing.T) {
	e := newEnv(t, true)
	realGit, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed")
	}
	spyDir := t.TempDir()
	argvLog := filepath.Join(spyDir, "argv.log")
	spy := "#!/bin/sh\nprintf '%s\\n' \"$*\" >> " + argvLog + "\nexec " + realGit + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(spyDir, "git"), []byte(spy), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", spyDir+string(os.PathListSeparator)+os.Getenv("PATH"))

	ctx := t.Context()
	auth := gitlab.GitAuthEnv(gitlabfake.Token)
	home := t.TempDir()
	m, err := workspace.OpenMirror(ctx, filepath.Join(home, "mirror.git"), e.fake.GitURL(), workspace.TransportEnv(auth))
	if err != nil {
		t.Fatal(err)
	}
	m.Branches = []string{"main"}
	if err := m.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	head, err := m.RemoteHead(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	// A commit of the developer's, pushed to the agent's branch.
	commit := gitOut(t, m.Dir, "", "commit-tree", head+"^{tree}", "-p", head, "-m", "work")
	if err := m.Push(ctx, commit, "agentorg/issue-1"); err != nil {
		t.Fatal(err)
	}
	if got := gitOut(t, e.fake.Repo, "", "rev-parse", "refs/heads/agentorg/issue-1"); got != commit {
		t.Fatalf("origin's branch is %s, pushed %s", got, commit)
	}
	if users := e.fake.GitAuth(); len(users) == 0 {
		t.Fatal("the git endpoint saw no credentials")
	}

	// Without the token the same push is refused, and the error does not
	// carry the credentials of the other mirror either.
	bare, err := workspace.OpenMirror(ctx, filepath.Join(home, "bare.git"), e.fake.GitURL())
	if err == nil {
		t.Fatalf("cloned %s without credentials", bare.Origin)
	}

	secrets := []string{gitlabfake.Token, base64.StdEncoding.EncodeToString([]byte("oauth2:" + gitlabfake.Token))}
	check := func(what, text string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Fatalf("the token is in %s: %q", what, text)
			}
		}
	}
	check("an error", err.Error())
	argv, err := os.ReadFile(argvLog)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(argv), "push") || !strings.Contains(string(argv), "clone") {
		t.Fatalf("the spy saw no clone or push:\n%s", argv)
	}
	check("git's argv", string(argv))
	filepath.WalkDir(m.Dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil {
			check(p, string(b))
		}
		return nil
	})
}
