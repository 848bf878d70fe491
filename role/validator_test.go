package role_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/gate"
	"github.com/agentorg/agentorg/orgtest"
)

const judgedBody = "Add the file.\n\n## Acceptance criteria\n- [ ] feature.txt says hello\n"

const writeFeature = `
  - match: {role: pm}
    summary: plan
  - match: {role: developer}
    actions: [{write: {path: feature.txt, content: "hello\n"}}]
    summary: Wrote feature.txt.
`

// A malformed answer is retried once in the validator's own session; a
// second malformed answer leaves the criterion unclear: NO-GO.
func TestMalformedValidatorAnswer(t *testing.T) {
	t.Run("twice", func(t *testing.T) {
		script := "steps:" + writeFeature + `
  - match: {role: validator}
    summary: "Looks good to me, all criteria are met."
`
		org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true", Edit: setBudget(1, "")})
		n, _ := start(t, org, judgedBody)
		as := attempts(t, org, n)
		if got := distances(as); got != "NO-GO:1" || labels(t, org, n) != "needs:human" {
			t.Fatalf("distances %s, labels %s", got, labels(t, org, n))
		}
		if !strings.Contains(as[0].Report, "| 1 | feature.txt says hello | **unclear** | validator agent: its answer was malformed twice: no ```json fenced block in the answer |") {
			t.Fatalf("report:\n%s", as[0].Report)
		}
		// The retry resumed the validator's own session, told what was wrong.
		evs, _ := org.Log.Events(context.Background(), eventlog.Filter{Issue: n, Kind: eventlog.KindAgent})
		session := ""
		for _, e := range evs {
			if strings.HasPrefix(e.Reason, "validator judged") {
				session = e.Data["session"]
			}
		}
		runs := prompts(t, org, session)
		if len(runs) != 2 || runs[0].Role != "validator" || !runs[1].Resumed || !strings.Contains(runs[1].Prompt, "could not be used: no ```json fenced block") {
			t.Fatalf("validator runs %+v", runs)
		}
		if session == as[0].SessionID {
			t.Fatal("the validator must not run in the developer's session")
		}
		if !strings.Contains(runs[0].Prompt, "feature.txt says hello") || !strings.Contains(runs[0].Prompt, "+hello") {
			t.Fatalf("the validator's prompt should carry the criteria and the diff:\n%s", runs[0].Prompt)
		}
	})
	t.Run("once", func(t *testing.T) {
		script := "steps:" + writeFeature + `
  - match: {role: validator, prompt: "could not be used"}
    summary: ` + yamlText(answer(map[int]string{1: "met"})) + `
  - match: {role: validator}
    summary: "` + fence + `json\n{\"criteria\": [{\"id\": 1, \"verdict\": \"done\", \"evidence\": \"x\"}]}\n` + fence + `"
`
		org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true"})
		n, _ := start(t, org, judgedBody)
		if got := distances(attempts(t, org, n)); got != "GO:0" {
			t.Fatalf("distances %s", got)
		}
	})
}

// Without a validator agent a judged criterion cannot be met.
func TestNoValidatorAgentLeavesCriteriaUnclear(t *testing.T) {
	org := orgtest.New(t, orgtest.Options{Script: "steps:" + writeFeature, Check: "true", E2E: "true", Edit: func(s string) string {
		s = setBudget(1, "")(s)
		return strings.Replace(s, "    role: validator\n    agent: coder\n", "    role: validator\n", 1)
	}})
	n, _ := start(t, org, judgedBody)
	as := attempts(t, org, n)
	if len(as) != 1 || !strings.Contains(as[0].Report, "**unclear** | engine: no validator agent is configured") {
		t.Fatalf("attempts %s, report:\n%s", distances(as), as[0].Report)
	}
}

// Each hygiene rule is a NO-GO with its reason, and nothing is pushed.
func TestHygieneRules(t *testing.T) {
	script := `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer}
    actions:
      - write: {path: ok.go, content: "package calc\n"}
      - write: {path: secrets/db.txt, content: "user\n"}
      - write: {path: notes.md, content: "outside the allowed paths\n"}
      - write: {path: config.txt, content: "token = ghp_aaaaBBBBccccDDDDeeeeFFFFggggHHHH1234\n"}
      - shell: "printf '\\000\\001\\002binary' > blob.dat; seq 1 80 > big.txt; mkdir -p bin; echo built > bin/tool"
    summary: Done.
`
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true", Edit: func(s string) string {
		return setHygiene(`  allow: ["*.go", "*.txt", "*.dat", "secrets/**"]
  deny: ["secrets/**"]
  max_diff_lines: 50
`)(setBudget(1, "")(s))
	}})
	n, _ := start(t, org, "No criteria.")
	as := attempts(t, org, n)
	want := "hygiene:binary:blob.dat hygiene:path:notes.md hygiene:path:secrets/db.txt hygiene:secret:config.txt hygiene:size:"
	if len(as) != 1 || strings.Join(as[0].FindingKeys(), " ") != want {
		t.Fatalf("findings %v, want %s", as[0].FindingKeys(), want)
	}
	for _, reason := range []string{"`blob.dat` is a binary file", "`notes.md` is outside the allowed paths", "`secrets/db.txt` matches the denied path `secrets/**`",
		"`config.txt` line 1", "looks like a GitHub token", "over the limit of 50"} {
		if !strings.Contains(as[0].Report, reason) {
			t.Errorf("report lacks %q", reason)
		}
	}
	if strings.Contains(as[0].Report, "ghp_aaaa") {
		t.Error("the report leaks the secret")
	}
	// bin/ is in the sample's .gitignore: build output never enters a commit.
	mirror := filepath.Join(org.Home, "mirror.git")
	if tree := orgtest.Git(t, mirror, "ls-tree", "-r", "--name-only", as[0].CommitSHA); strings.Contains(tree, "bin/tool") || !strings.Contains(tree, "ok.go") {
		t.Fatalf("committed tree:\n%s", tree)
	}
	if sha := originBranch(t, org, "agentorg/issue-1"); sha != "" {
		t.Fatalf("a NO-GO was pushed: origin has the branch at %s", sha)
	}
}

// moveMainScript writes a shell script that pushes a teammate's commit
// (files with their content) to origin's main and prints nothing; agents
// run it mid-step to move the target under the developer.
func moveMainScript(t *testing.T, dir string) string {
	t.Helper()
	return filepath.Join(dir, "move-main.sh")
}

func writeMoveMain(t *testing.T, path, origin, file, content string) {
	t.Helper()
	sh := fmt.Sprintf(`set -e
d=$(mktemp -d)
git clone -q %q "$d/c"
cd "$d/c"
printf '%%s' %q >> %q
git add -A
git -c user.name=Teammate -c user.email=t@example.com commit -qm "teammate's change"
git push -q origin HEAD:main
`, origin, content, file)
	if err := os.WriteFile(path, []byte(sh), 0o755); err != nil {
		t.Fatal(err)
	}
}

// A target branch that moved during development is under what is
// validated and pushed: one commit of the change on the moved target. The
// check needs the teammate's file, which is in that commit and never in
// the developer's worktree: validation is on the commit to push, in a
// checkout of its own (docs/lifecycle.md I2).
func TestMovedTargetIsBroughtInBeforeTheMergeRequest(t *testing.T) {
	dir := t.TempDir()
	mover := moveMainScript(t, dir)
	script := `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer}
    actions:
      - write: {path: feature.txt, content: "hello\n"}
      - shell: "sh ` + mover + `"
    summary: Wrote feature.txt (and a teammate pushed to main meanwhile).
`
	// Unconfined: the developer agent plays the teammate pushing to the origin.
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "test -f feature.txt && test -f teammate.txt", E2E: "true", Unconfined: true})
	writeMoveMain(t, mover, org.Origin, "teammate.txt", "theirs\n")
	ctx := context.Background()
	n, _ := start(t, org, "No criteria.")
	if got := labels(t, org, n); got != "mr:ready-for-review" {
		t.Fatalf("labels %s; attempts %s", got, distances(attempts(t, org, n)))
	}
	moved := orgtest.Git(t, org.Origin, "rev-parse", "main")
	as := attempts(t, org, n)
	mr, err := gate.IssueMR(ctx, org.Tracker, org.Workflow, n)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 1 || mr.HeadSHA != as[0].CommitSHA || originBranch(t, org, "agentorg/issue-1") != mr.HeadSHA {
		t.Fatalf("MR head %s, attempts %+v", mr.HeadSHA, as)
	}
	if parents := strings.Fields(orgtest.Git(t, org.Origin, "log", "-1", "--format=%P", mr.HeadSHA)); len(parents) != 1 || parents[0] != moved {
		t.Fatalf("the validated commit should be one commit on the moved main %s: parents %v", moved, parents)
	}
	if as[0].WorkSHA == as[0].CommitSHA || as[0].WorkSHA == "" {
		t.Fatalf("the work %s and the pushed commit %s should be told apart", as[0].WorkSHA, as[0].CommitSHA)
	}
}

// A conflict with the moved target goes back to the developer's session
// with the conflicting files; its resolution is validated and pushed.
func TestConflictGoesBackToTheDeveloper(t *testing.T) {
	dir := t.TempDir()
	mover := moveMainScript(t, dir)
	script := `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer, attempt: 1}
    actions:
      - append: {path: README.md, content: "Mine.\n"}
      - shell: "sh ` + mover + `"
    summary: Documented it.
  - match: {role: developer, attempt: 2, prompt: "conflicts with your change in: README.md"}
    actions:
      - shell: "grep -q '<<<<<<<' README.md"
      - write: {path: README.md, content: "# calc\n\nThe agentorg demo's sample project.\nTheirs.\nMine.\n"}
    summary: Resolved the conflict.
`
	// Unconfined: the developer agent plays the teammate pushing to the origin.
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "grep -q Theirs README.md && grep -q Mine README.md && ! grep -q '<<<<' README.md", E2E: "true", Unconfined: true})
	writeMoveMain(t, mover, org.Origin, "README.md", "Theirs.\n")
	ctx := context.Background()
	n, _ := start(t, org, "No criteria.")
	as := attempts(t, org, n)
	if got := distances(as); got != "NO-GO:1 GO:0" || labels(t, org, n) != "mr:ready-for-review" {
		t.Fatalf("distances %s, labels %s", got, labels(t, org, n))
	}
	if keys := findingPaths(as[0]); keys != "conflict:README.md" {
		t.Fatalf("attempt 1 findings %s", keys)
	}
	if !strings.Contains(comment(t, org, n, "## Validation of attempt 1"), "does not merge onto it cleanly") {
		t.Fatal("the report should say the change does not merge onto the moved target")
	}
	mr, _ := gate.IssueMR(ctx, org.Tracker, org.Workflow, n)
	main := orgtest.Git(t, org.Origin, "rev-parse", "main")
	if mr.HeadSHA != as[1].CommitSHA || orgtest.Git(t, org.Origin, "merge-base", main, mr.HeadSHA) != main {
		t.Fatalf("the MR head %s should be attempt 2's commit and contain main %s", mr.HeadSHA, main)
	}
}

// A target that moved after the merge request was approved: the merge
// train merges the approved commit onto it only after validating the
// combination (checks on exactly the tree that lands); the approval stands,
// since the reviewed commit is what is merged.
func TestMovedTargetBeforeMergeIsValidatedAgain(t *testing.T) {
	org := orgtest.New(t, orgtest.Options{Script: "steps:" + writeFeature, Check: "test -f feature.txt", E2E: "true"})
	ctx := context.Background()
	n, eng := start(t, org, "No criteria.")
	if _, err := org.Desk.Approve(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	moved := pushToMain(t, org, map[string]string{"teammate.txt": "theirs\n"})
	orgtest.RunUntilIdle(t, eng)
	if got := labels(t, org, n); got != "e2e:done" {
		t.Fatalf("labels %s", got)
	}
	as := attempts(t, org, n)
	mr, _ := gate.IssueMR(ctx, org.Tracker, org.Workflow, n)
	if len(as) != 1 || mr.State != agentorg.MRMerged || mr.HeadSHA != as[0].CommitSHA {
		t.Fatalf("the approved commit should be merged as it is: %+v, attempts %+v", mr, as)
	}
	if parents := strings.Fields(orgtest.Git(t, org.Origin, "log", "-1", "--format=%P", mr.MergeSHA)); len(parents) != 2 || parents[0] != moved || parents[1] != mr.HeadSHA {
		t.Fatalf("the merge should join %s and %s, parents %v", moved, mr.HeadSHA, parents)
	}
	// The train's own commit for the combination carries the checks, and
	// it is the very commit that landed (the embedded forge lands it).
	evs := eventsOf(t, org, n, eventlog.KindMerge)
	last := evs[len(evs)-1]
	if !strings.Contains(last.Reason, "merge train") || last.Data["merge_sha"] != mr.MergeSHA {
		t.Fatalf("merge event %+v", last)
	}
	body := comment(t, org, n, "Validated in a merge train")
	i := strings.Index(body, "checked out clean at `")
	if i < 0 {
		t.Fatalf("train report %s", body)
	}
	abbrev := body[i+len("checked out clean at `") : i+len("checked out clean at `")+10]
	tip := orgtest.Git(t, org.Home+"/mirror.git", "rev-parse", abbrev)
	if tip != mr.MergeSHA {
		t.Fatalf("validated combination %s, merged %s", tip, mr.MergeSHA)
	}
	checks, err := org.Tracker.Checks(ctx, tip)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]agentorg.CheckStatus{}
	for _, c := range checks {
		byName[c.Name] = c.Status
	}
	if byName["test"] != agentorg.CheckPassed {
		t.Fatalf("checks on the validated combination %s: %+v", tip, checks)
	}
}

// A target that moved into a conflict before the merge goes back to the
// developer instead of merging.
func TestMovedTargetBeforeMergeWithAConflictGoesBack(t *testing.T) {
	script := `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer}
    actions: [{append: {path: README.md, content: "Mine.\n"}}]
    summary: Documented.
`
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true", Edit: setBudget(1, "")})
	ctx := context.Background()
	n, eng := start(t, org, "No criteria.")
	if _, err := org.Desk.Approve(ctx, n, "alice"); err != nil {
		t.Fatal(err)
	}
	moved := pushToMain(t, org, map[string]string{"README.md": "# calc\n\nRewritten by a teammate.\n"})
	orgtest.RunUntilIdle(t, eng)
	as := attempts(t, org, n)
	if got := distances(as); got != "GO:0 NO-GO:1" || findingPaths(as[1]) != "conflict:README.md" {
		t.Fatalf("attempts %s %v", got, as[len(as)-1].FindingKeys())
	}
	if orgtest.Git(t, org.Origin, "rev-parse", "main") != moved {
		t.Fatal("a conflicting change was merged")
	}
	if got := labels(t, org, n); got != "needs:human" { // the budget of 1 attempt is spent
		t.Fatalf("labels %s", got)
	}
}

// Issue 14: a commit someone else pushed onto the merge request's branch
// is never thrown away. The forge shows it as the head and a human
// approves there; agentorg neither validates its own older commit in its
// place nor pushes over it: the issue goes to a human, with whose commit it
// is and what to do, and the branch keeps the commit.
// (docs/lifecycle.md I1, F4a)
func TestATeammatesCommitOnTheBranchIsNeverDiscarded(t *testing.T) {
	org := orgtest.New(t, orgtest.Options{Script: "steps:" + writeFeature, Check: "test -f feature.txt", E2E: "true"})
	ctx := context.Background()
	n, eng := start(t, org, "No criteria.")
	mr, _ := gate.IssueMR(ctx, org.Tracker, org.Workflow, n)
	main := orgtest.Git(t, org.Origin, "rev-parse", "main")
	theirs := pushToBranch(t, org, mr.SourceBranch, "notes.txt", "a teammate's note\n", "Add the release note")
	if _, err := org.Tracker.SetMRHead(ctx, mr.Number, theirs); err != nil { // as the forge shows a push
		t.Fatal(err)
	}
	if _, err := org.Desk.Approve(ctx, n, "alice"); err != nil { // at the teammate's head
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	if got := labels(t, org, n); got != "needs:human" {
		t.Fatalf("labels %s, want the issue handed to a human", got)
	}
	if got := orgtest.Git(t, org.Origin, "rev-parse", mr.SourceBranch); got != theirs {
		t.Fatalf("the branch moved from the teammate's %s to %s: their commit was pushed over", theirs, got)
	}
	if orgtest.Git(t, org.Origin, "rev-parse", "main") != main {
		t.Fatal("main moved: a commit nobody validated was merged")
	}
	if as := attempts(t, org, n); len(as) != 1 {
		t.Fatalf("want no re-validation in the teammate's commit's place, attempts %s", distances(as))
	}
	body := comment(t, org, n, "## Needs a human")
	for _, want := range []string{theirs[:10] + " by Teammate <t@example.com>: \"Add the release note\"", "never pushes over someone else's commit", "reset the branch to agentorg's " + mr.HeadSHA[:10]} {
		if !strings.Contains(body, want) {
			t.Errorf("the escalation does not say %q:\n%s", want, body)
		}
	}
}

// Issue 14: a push is leased. A teammate's commit reaches the branch on
// the origin unseen by the tracker; the human sends the merge request back,
// the developer's fix is validated GO, and its push finds the branch not
// where agentorg left it: refused, the issue to a human, the commit kept.
// (docs/lifecycle.md I1, F4a)
func TestAPushNeverOverwritesACommitItDidNotMake(t *testing.T) {
	script := `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer, prompt: "sent back by a reviewer"}
    actions: [{write: {path: feature.txt, content: "hello, world\n"}}]
    summary: Changed it.
  - match: {role: developer}
    actions: [{write: {path: feature.txt, content: "hello\n"}}]
    summary: Wrote feature.txt.
`
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "test -f feature.txt", E2E: "true"})
	ctx := context.Background()
	n, eng := start(t, org, "No criteria.")
	mr, _ := gate.IssueMR(ctx, org.Tracker, org.Workflow, n)
	theirs := pushToBranch(t, org, mr.SourceBranch, "notes.txt", "a teammate's note\n", "Add the release note")
	if _, err := org.Desk.Reject(ctx, n, "alice", "Say hello to the world."); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	if got := distances(attempts(t, org, n)); got != "GO:0 GO:0" {
		t.Fatalf("distances %s, want the fix validated GO", got)
	}
	if got := labels(t, org, n); got != "needs:human" {
		t.Fatalf("labels %s, want the refused push handed to a human", got)
	}
	if got := orgtest.Git(t, org.Origin, "rev-parse", mr.SourceBranch); got != theirs {
		t.Fatalf("the branch moved from the teammate's %s to %s", theirs, got)
	}
	if body := comment(t, org, n, "refusing to push"); !strings.Contains(body, "by Teammate <t@example.com>") {
		t.Errorf("the escalation does not name the teammate:\n%s", body)
	}
}

// Nothing in the loop merges a NO-GO, even with the label and an approval
// forced in by hand.
func TestNothingMergesANoGo(t *testing.T) {
	script := `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer, prompt: "sent back by a reviewer"}
    actions: [{write: {path: feature.txt, content: "broken\n"}}]
    summary: Broke it.
  - match: {role: developer}
    actions: [{write: {path: feature.txt, content: "hello\n"}}]
    summary: Wrote feature.txt.
`
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "grep -q hello feature.txt", E2E: "true", Edit: setBudget(2, "")})
	ctx := context.Background()
	n, eng := start(t, org, "No criteria.")
	mr, _ := gate.IssueMR(ctx, org.Tracker, org.Workflow, n)
	if _, err := org.Desk.Reject(ctx, n, "alice", "Change it."); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	as := attempts(t, org, n)
	if got := distances(as); got != "GO:0 NO-GO:1" || labels(t, org, n) != "needs:human" {
		t.Fatalf("distances %s, labels %s", got, labels(t, org, n))
	}
	main := orgtest.Git(t, org.Origin, "rev-parse", "main")
	// Force the merge: the approved label and an approval at the MR's head.
	if _, err := org.Tracker.ApproveMR(ctx, mr.Number, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := org.Tracker.UpdateLabels(ctx, n, []string{"mr:approved"}, []string{"needs:human"}, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	mr, _ = org.Tracker.MR(ctx, mr.Number)
	if mr.State == agentorg.MRMerged || orgtest.Git(t, org.Origin, "rev-parse", "main") != main {
		t.Fatal("a NO-GO was merged")
	}
	if !strings.Contains(comment(t, org, n, "## Needs a human"), "has no GO from validation; refusing to merge") {
		t.Fatal("the refusal should be explained")
	}
}

func eventsOf(t *testing.T, org *orgtest.Org, n int64, kind string) []eventlog.Event {
	t.Helper()
	evs, err := org.Log.Events(context.Background(), eventlog.Filter{Issue: n, Kind: kind})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}
