package role_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/orgtest"
	"github.com/agentorg/agentorg/role"
)

// The developer's agent commits on its own (a foreign author, a secret in
// the message), moves its branch and plants config and a hook in its
// repository: what is validated and pushed holds only agentorg's commit,
// with agentorg's identity, and the mirror's config, hooks and refs are
// what agentorg made them (DESIGN rule 6; docs/lifecycle.md I16).
func TestAgentCommitsAreFoldedAndItsRepositoryStaysItsOwn(t *testing.T) {
	script := "steps:" + `
  - match: {role: pm}
    summary: plan
  - match: {role: developer}
    actions:
      - write: {path: feature.txt, content: "hello\n"}
      - shell: >-
          git add -A &&
          git -c user.name=Mallory -c user.email=mallory@evil.example commit -q -m 'token AKIAIOSFODNN7EXAMPLE' &&
          git config url./nonexistent/.insteadOf / &&
          git config core.fsmonitor 'touch ../fsmonitor-ran; true' &&
          mkdir -p .git/hooks && printf '#!/bin/sh\ntouch ../hook-ran\n' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit &&
          git branch -f elsewhere HEAD && git update-ref refs/heads/$(git symbolic-ref --short HEAD) HEAD~1
      - write: {path: later.txt, content: "uncommitted\n"}
    summary: Wrote feature.txt.
`
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true"})
	mirror := filepath.Join(org.Home, "mirror.git")
	n, _ := start(t, org, "Add the file.\n\n## Acceptance criteria\n- [ ] `test -f feature.txt` passes\n")
	if got := labels(t, org, n); got != "mr:ready-for-review" {
		t.Fatalf("labels %s; attempts %s\n%s", got, distances(attempts(t, org, n)), comment(t, org, n, "Needs a human"))
	}
	branch := org.Workflow.Branch(n)
	history := orgtest.Git(t, org.Origin, "log", "--format=%an <%ae>|%B", "main.."+branch)
	if strings.Contains(history, "Mallory") || strings.Contains(history, "AKIA") {
		t.Fatalf("the agent's commit reached the pushed branch:\n%s", history)
	}
	if got := orgtest.Git(t, org.Origin, "rev-list", "--count", "main.."+branch); got != "1" {
		t.Fatalf("%s commits pushed, want agentorg's one:\n%s", got, history)
	}
	if !strings.Contains(history, "@agentorg.invalid>|#") {
		t.Fatalf("the pushed commit is not agentorg's:\n%s", history)
	}
	files := orgtest.Git(t, org.Origin, "ls-tree", "-r", "--name-only", branch)
	if !strings.Contains(files, "feature.txt") || !strings.Contains(files, "later.txt") {
		t.Fatalf("the pushed tree is not what the agent left:\n%s", files)
	}
	if cfg, err := os.ReadFile(filepath.Join(mirror, "config")); err != nil || strings.Contains(string(cfg), "insteadOf") || strings.Contains(string(cfg), "fsmonitor") {
		t.Fatalf("the mirror's config took the agent's (%v):\n%s", err, cfg)
	}
	if _, err := os.Stat(filepath.Join(mirror, "hooks", "pre-commit")); err == nil {
		t.Fatal("the agent's hook reached the mirror")
	}
	if refs := orgtest.Git(t, mirror, "for-each-ref", "--format=%(refname)"); strings.Contains(refs, "elsewhere") {
		t.Fatalf("the agent's branch reached the mirror:\n%s", refs)
	}
	for _, f := range []string{"fsmonitor-ran", "hook-ran"} {
		if _, err := os.Stat(filepath.Join(role.WorktreePath(org.Home, n), "..", f)); err == nil {
			t.Errorf("agentorg ran the agent's %s", f)
		}
	}
}
