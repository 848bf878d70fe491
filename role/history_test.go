package role_test

import (
	"context"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/gate"
	"github.com/agentorg/agentorg/orgtest"
)

// Issue 14 (docs/lifecycle.md I1): what lands is one commit of the
// validated tree. Attempt 1 writes a correct fix plus a log and an OS file
// (junk: left out), a 5 MB binary, a denied CI file and an .env holding a
// token (the engine commits them in its worktree; validation refuses
// them); attempt 2 deletes what validation named. The change converges and
// merges, and none of attempt 1's content is in any object of the origin:
// not in main's tree, not in its history.
func TestWhatLandsIsOnlyTheValidatedTree(t *testing.T) {
	token := "ghp_aaaaBBBBccccDDDDeeeeFFFFggggHHHH1234"
	script := `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer, attempt: 1}
    actions:
      - write: {path: sub.go, content: "package calc\n\n// Sub returns a - b.\nfunc Sub(a, b int) int { return a - b }\n"}
      - write: {path: test-run.log, content: "=== RUN TestSub\n"}
      - write: {path: .DS_Store, content: "Bud1"}
      - shell: "mkdir -p data .github/workflows && head -c 5242880 /dev/urandom > data/blob.bin && printf 'on: push\n' > .github/workflows/x.yml"
      - write: {path: .env, content: "TOKEN=` + token + `\n"}
    summary: Added Sub.
  - match: {role: developer}
    actions:
      - delete: data
      - delete: .github
      - delete: .env
    summary: Removed what validation named.
`
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "go vet ./... && go test ./...", E2E: "true"})
	ctx := context.Background()
	n, eng := start(t, org, "Add Sub.")
	as := attempts(t, org, n)
	if len(as) != 2 || as[1].Verdict != "GO" {
		t.Fatalf("distances %s", distances(as))
	}
	keys := strings.Join(as[0].FindingKeys(), " ")
	for _, want := range []string{"hygiene:binary:data/blob.bin", "hygiene:path:.github/workflows/x.yml", "hygiene:path:.env", "hygiene:secret:.env"} {
		if !strings.Contains(keys, want) {
			t.Errorf("attempt 1's findings lack %s: %s", want, keys)
		}
	}
	if _, err := org.Humans.Approve(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	if mr, err := gate.IssueMR(ctx, org.Tracker, org.Workflow, n); err != nil || mr.State != agentorg.MRMerged {
		t.Fatalf("merge request %+v, %v", mr, err)
	}
	if got := orgtest.Git(t, org.Origin, "show", "main:sub.go"); !strings.Contains(got, "func Sub") {
		t.Fatalf("main lacks the fix: %s", got)
	}
	assertOriginLacks(t, org, []string{"test-run.log", ".DS_Store", "data/blob.bin", ".github/workflows/x.yml", ".env"},
		[]string{token, "=== RUN TestSub", "on: push"})
	if size := orgtest.Git(t, org.Origin, "count-objects", "-v"); strings.Contains(size, "size-pack: 5") {
		t.Fatalf("the origin grew by the blob:\n%s", size)
	}
}
