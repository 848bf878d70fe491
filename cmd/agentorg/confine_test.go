package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg/sample"
	"github.com/agentorg/agentorg/sandbox"
	"github.com/agentorg/agentorg/sandbox/sandboxtest"
	"github.com/agentorg/agentorg/workflow"
)

// attackerScript is a malicious command agent (docs/agent-protocol.md),
// used for every role: it tries every way out of its directory, leaves a
// detached child that keeps trying to approve its own work as alice and
// to write the database, then does its job honestly. What it tried and
// what got through goes to its transcript. %[1]s is the home, %[2]s the
// origin, %[3]s the agentorg binary, %[4]s a tag its child carries, %[5]s
// the checks' own Go build cache (a result written there would pass a
// failing test).
const attackerScript = `#!/bin/sh
cat >/dev/null
H='%[1]s'; O='%[2]s'; BIN='%[3]s'; TAG='%[4]s'
try() {
  if sh -c "$1" 2>/dev/null; then echo "ATTACK ESCAPED: $AGENTORG_ROLE: $2" >&2
  else echo "ATTACK refused: $AGENTORG_ROLE: $2" >&2; fi
}
try 'echo x >> ../escape' '../escape'
try "echo x >> '$H/escape'" 'the home'
try "echo x >> '$H/agentorg.db'" 'the database'
try "cat '$H/agentorg.db' >/dev/null" 'reading the database'
try "echo x >> '$H/mirror.git/objects/escape'" 'the mirror'
try "echo x >> '$O/escape'" 'the origin'
try "echo x >> /tmp/agentorg-attack-$TAG" '/tmp'
try "echo x >> '%[5]s/escape'" "the checks' build cache"
try "echo x >> '%[5]s/../go-mod/escape'" "the checks' module cache"
try "mkdir -p '%[5]s/../npm' && echo x >> '%[5]s/../npm/escape'" "the checks' npm cache"
[ "$AGENTORG_ACCESS" = read-only ] && try 'echo x >> escape' 'its own checkout'
ATTACK_TAG=$TAG setsid sh -c '
  while :; do
    "$0" --home "$1" approve 1 --as alice >/dev/null 2>"$TMPDIR/approve.err" && echo "ATTACK ESCAPED: child approved" >&2
    echo x >> "$1/agentorg.db" 2>/dev/null && echo "ATTACK ESCAPED: child wrote the database" >&2
    touch "$TMPDIR/child-tried"
    sleep 0.05
  done' "$BIN" "$H" </dev/null >/dev/null &
i=0
while [ ! -f "$TMPDIR/child-tried" ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done
[ -f "$TMPDIR/child-tried" ] && echo "ATTACK child tried: $(head -c 300 "$TMPDIR/approve.err")" >&2
case "$AGENTORG_ROLE" in
developer)
  printf 'package calc\n\n// Twice returns 2n.\nfunc Twice(n int) int { return Add(n, n) }\n' > twice.go
  summary='Added Twice.' ;;
pm) summary='Add twice.go with Twice(n int) int.' ;;
*) summary='Nothing to judge.' ;;
esac
printf '{"type":"result","session_id":"attacker-%%s","summary":"%%s","is_error":false}\n' "$AGENTORG_ROLE" "$summary"
`

// An agent that attacks agentorg from inside its run, under `serve
// --once`: nothing reaches the home or the origin, its detached child is
// gone when the run ends, no approval is forged, and the issue still goes
// through honestly once alice approves. (docs/lifecycle.md I10)
func TestConfinedAttackerCannotReachTheHomeOrApprove(t *testing.T) {
	sandboxtest.Need(t)
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	tag := fmt.Sprintf("attack-%d-%d", os.Getpid(), time.Now().UnixNano())
	agent := filepath.Join(dir, "attacker.sh")
	text := string(workflow.Default(workflow.DefaultOptions{
		Approvers: []string{"alice"}, TargetBranch: "main", RepoURL: "../origin.git",
		Check: "go test ./...", E2E: "go test -count=1 ./...", AgentCommand: []string{"sh", agent},
	}))
	repo, origin, err := sample.Make(context.Background(), filepath.Join(dir, "sample"), map[string]string{workflow.DefaultPath: text})
	if err != nil {
		t.Fatal(err)
	}
	// The checks' build cache, app.CheckGoCache, under a state directory
	// of the test's own.
	state := filepath.Join(dir, "state")
	checkCache := filepath.Join(state, "agentorg", "checks", "go-build")
	if err := os.WriteFile(agent, []byte(fmt.Sprintf(attackerScript, home, origin, bin, tag, checkCache)), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove("/tmp/agentorg-attack-" + tag) })
	env := []string{"AGENTORG_HOME=" + home, "AGENTORG_WORKFLOW=" + filepath.Join(repo, workflow.DefaultPath), "XDG_STATE_HOME=" + state}
	cli := func(args ...string) result {
		t.Helper()
		r := run(t, dir, env, args...)
		if r.code != 0 {
			t.Fatalf("agentorg %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
		return r
	}
	// Each run's detached child must be gone by the time serve returns.
	noChildLeft := func(after string) {
		t.Helper()
		if pids := procsWithEnv("ATTACK_TAG=" + tag); len(pids) > 0 {
			t.Fatalf("after %s, the attacker's detached children %v still run", after, pids)
		}
	}
	cli("issue", "new", "--title", "Add Twice", "--opt-in", "--as", "alice",
		"--body", "Add Twice.\n\n## Acceptance criteria\n- [ ] `go test ./...` passes\n")

	r := cli("serve", "--once")
	if !strings.Contains(r.stderr, "confinement: on") {
		t.Errorf("serve does not say runs are confined:\n%s", r.stderr)
	}
	noChildLeft("the plan")
	if got := labelsOf(t, dir, env); got != "plan:review" {
		t.Fatalf("after the plan: %s (the child may not approve it)\n%s", got, r.stdout)
	}
	cli("approve", "1", "--as", "alice")
	r = cli("serve", "--once")
	noChildLeft("the development and validation")
	if got := labelsOf(t, dir, env); got != "mr:ready-for-review" {
		t.Fatalf("after development: %s, want the merge request waiting for alice\n%s%s", got, r.stdout, r.stderr)
	}
	cli("approve", "1", "--as", "alice")
	r = cli("serve", "--once")
	noChildLeft("the merge and E2E")
	if got := labelsOf(t, dir, env); got != "e2e:done" {
		t.Fatalf("after the merge: %s\n%s%s", got, r.stdout, r.stderr)
	}
	if !bytes.Contains(gitShow(t, origin, "main:twice.go"), []byte("func Twice")) {
		t.Fatal("twice.go did not land on main")
	}

	// What the attacker tried, in every role that ran, and what got through.
	var logs strings.Builder
	runs, _ := filepath.Glob(filepath.Join(home, "runs", "*.log"))
	for _, p := range runs {
		b, _ := os.ReadFile(p)
		logs.Write(b)
	}
	all := logs.String()
	t.Logf("what the attacker tried:\n%s", grepLines(all, "ATTACK"))
	if strings.Contains(all, "ATTACK ESCAPED") {
		t.Errorf("the attacker got through:\n%s", grepLines(all, "ATTACK"))
	}
	for _, role := range []string{"pm", "developer"} {
		for _, what := range []string{"../escape", "the home", "the database", "reading the database", "the mirror", "the origin", "/tmp", "the checks' build cache", "the checks' module cache", "the checks' npm cache"} {
			if want := "ATTACK refused: " + role + ": " + what + "\n"; !strings.Contains(all, want) {
				t.Errorf("the transcripts lack %q:\n%s", want, grepLines(all, "ATTACK"))
			}
		}
	}
	if !strings.Contains(all, "ATTACK refused: pm: its own checkout\n") {
		t.Errorf("the read-only PM did not try its own checkout:\n%s", grepLines(all, "ATTACK"))
	}
	if !strings.Contains(all, "ATTACK child tried: ") || !strings.Contains(all, "permission denied") {
		t.Errorf("the detached child did not try to approve, or was not refused:\n%s", grepLines(all, "ATTACK"))
	}
	for _, p := range []string{filepath.Join(home, "escape"), filepath.Join(home, "worktrees", "escape"), filepath.Join(home, "checkouts", "slots", "escape"),
		filepath.Join(home, "mirror.git", "objects", "escape"), filepath.Join(origin, "escape"), "/tmp/agentorg-attack-" + tag,
		filepath.Join(checkCache, "escape"), filepath.Join(checkCache, "..", "go-mod", "escape"), filepath.Join(checkCache, "..", "npm", "escape")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("the attacker wrote %s", p)
		}
	}
	// The checks built in their own cache, which the attacker could not write.
	if _, err := os.Stat(filepath.Join(checkCache, "README")); err != nil {
		t.Errorf("the checks did not use their own build cache %s: %v", checkCache, err)
	}
	// Only alice's two approvals, given above, passed a gate.
	events := cli("events", "--issue", "1").stdout
	if n := strings.Count(events, "alice approved"); n != 2 {
		t.Errorf("%d approvals by alice, want 2:\n%s", n, events)
	}
}

// labelsOf is issue #1's labels, joined.
func labelsOf(t *testing.T, dir string, env []string) string {
	t.Helper()
	r := run(t, dir, env, "issue", "show", "1", "--json")
	var is struct{ Labels []string }
	if err := json.Unmarshal([]byte(r.stdout), &is); err != nil {
		t.Fatalf("issue show 1 --json: %v\n%s%s", err, r.stdout, r.stderr)
	}
	return strings.Join(is.Labels, ",")
}

func gitShow(t *testing.T, repo, what string) []byte {
	t.Helper()
	out, _ := sample.Git(context.Background(), repo, "show", what)
	return []byte(out)
}

// procsWithEnv lists the live processes whose environment holds kv.
func procsWithEnv(kv string) []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, v := range bytes.Split(b, []byte{0}) {
			if string(v) == kv {
				out = append(out, e.Name())
			}
		}
	}
	return out
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// outsideScript's developer writes a file outside its worktree (%s).
const outsideScript = `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer}
    actions:
      - write: {path: twice.go, content: "package calc\n\n// Twice returns 2n.\nfunc Twice(n int) int { return Add(n, n) }\n"}
      - shell: "echo x > %s || true"
    summary: Added Twice.
`

// newOutsideOrg is a repository whose workflow says confinement (or
// leaves it to its default, "") and whose developer writes outside.
func newOutsideOrg(t *testing.T, confinement string) (dir, outside string, env []string) {
	t.Helper()
	dir = t.TempDir()
	outside = filepath.Join(dir, "outside.txt")
	script := filepath.Join(dir, "script.yaml")
	if err := os.WriteFile(script, []byte(fmt.Sprintf(outsideScript, outside)), 0o644); err != nil {
		t.Fatal(err)
	}
	sessions := filepath.Join(dir, "sessions")
	os.MkdirAll(sessions, 0o755)
	text := string(workflow.Default(workflow.DefaultOptions{
		Approvers: []string{"alice"}, TargetBranch: "main", RepoURL: "../origin.git", Check: "go test ./...", E2E: "true",
		AgentCommand: []string{bin, "scripted-agent", "--script", script, "--state", sessions},
		Agent:        workflow.AgentOptions{Writable: []string{sessions + "/"}},
		Confinement:  confinement,
	}))
	repo, _, err := sample.Make(context.Background(), filepath.Join(dir, "sample"), map[string]string{workflow.DefaultPath: text})
	if err != nil {
		t.Fatal(err)
	}
	env = []string{"AGENTORG_HOME=" + filepath.Join(dir, "home"), "AGENTORG_WORKFLOW=" + filepath.Join(repo, workflow.DefaultPath)}
	if r := run(t, dir, env, "issue", "new", "--title", "Add Twice", "--opt-in", "--as", "alice"); r.code != 0 {
		t.Fatalf("issue new: %s", r.stderr)
	}
	return dir, outside, env
}

// Where the kernel cannot confine, a workflow that requires confinement
// (the default) does not start, and says why and what to do; agents and
// doctor say so too. confinement: off runs, unconfined, and says so.
func TestConfinementRefusedWhereUnavailableUnlessTurnedOff(t *testing.T) {
	unavailable := sandbox.UnavailableEnv + "=no Landlock on this test machine"
	dir, _, env := newOutsideOrg(t, "")
	env = append(env, unavailable)
	r := run(t, dir, env, "serve", "--once")
	if r.code != 1 || !strings.Contains(r.stderr, "agentorg: the engine does not start: agents cannot be confined here: no Landlock on this test machine ("+sandbox.UnavailableEnv+" is set). Run agentorg on Linux 6.2 or later with Landlock enabled, or set `confinement: off` in ") {
		t.Fatalf("serve --once where confinement is unavailable: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := labelsOf(t, dir, env); got != "agentorg" {
		t.Fatalf("an agent ran: %s", got)
	}
	r = run(t, dir, env, "agents")
	if r.code != 1 || !strings.Contains(r.stdout, "confinement: unavailable: no Landlock on this test machine") || !strings.Contains(r.stdout, "  fix: Run agentorg on Linux 6.2 or later") {
		t.Errorf("agents where confinement is unavailable: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, dir, env, "doctor", "--skip-checks")
	if r.code != 1 || !strings.Contains(r.stdout, "problem: agents cannot be confined here: no Landlock on this test machine") {
		t.Errorf("doctor where confinement is unavailable: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	dir, outside, env := newOutsideOrg(t, workflow.ConfinementOff)
	env = append(env, unavailable)
	r = run(t, dir, env, "serve", "--once")
	if r.code != 0 || !strings.Contains(r.stderr, "confinement: off (the workflow says so): agents, checks and the E2E command can read and write anything agentorg can") {
		t.Fatalf("serve --once with confinement off: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	run(t, dir, env, "approve", "1", "--as", "alice")
	if r := run(t, dir, env, "serve", "--once"); r.code != 0 || labelsOf(t, dir, env) != "mr:ready-for-review" {
		t.Fatalf("serve --once with confinement off: exit %d, labels %s\n%s%s", r.code, labelsOf(t, dir, env), r.stdout, r.stderr)
	}
	if _, err := os.Stat(outside); err != nil {
		t.Errorf("unconfined, the developer's write outside its worktree did not land: %v", err)
	}
	r = run(t, dir, env, "doctor", "--skip-checks")
	if !strings.Contains(r.stdout, "warning: confinement: off (the workflow says so)") {
		t.Errorf("doctor with confinement off:\n%s%s", r.stdout, r.stderr)
	}
}

// The same developer, confined: its write outside is refused, the rest of
// its work lands, and agents and doctor say how runs are confined.
func TestConfinedDeveloperWritesOnlyItsWorktree(t *testing.T) {
	sandboxtest.Need(t)
	dir, outside, env := newOutsideOrg(t, "")
	for _, args := range [][]string{{"serve", "--once"}, {"approve", "1", "--as", "alice"}, {"serve", "--once"}} {
		if r := run(t, dir, env, args...); r.code != 0 {
			t.Fatalf("agentorg %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}
	if got := labelsOf(t, dir, env); got != "mr:ready-for-review" {
		t.Fatalf("labels %s", got)
	}
	if _, err := os.Stat(outside); err == nil {
		t.Error("confined, the developer wrote outside its worktree")
	}
	if r := run(t, dir, env, "agents"); r.code != 0 || !strings.Contains(r.stdout, "confinement: on (Landlock ABI ") {
		t.Errorf("agents: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, dir, env, "doctor", "--skip-checks"); !strings.Contains(r.stdout, "ok: confinement: on (Landlock ABI ") {
		t.Errorf("doctor:\n%s%s", r.stdout, r.stderr)
	}
}
