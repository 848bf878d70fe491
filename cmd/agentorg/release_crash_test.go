package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg/store"
)

// releaseCrashScript plans and writes one file, and answers as the
// release agent.
const releaseCrashScript = `
steps:
  - match: {role: pm}
    summary: "Greet.\n\n## Acceptance criteria\n- [ ] ` + "`test -f greet.txt`" + ` passes"
  - match: {role: developer}
    actions: [{write: {path: greet.txt, content: "hi\n"}}]
    summary: Wrote greet.txt.
  - match: {role: release}
    summary: "` + "```json" + `\n{\"version\": \"0.1.0\", \"summary\": \"Greetings.\"}\n` + "```" + `"
`

// A kill -9 while a release is published (merge, tag, record) and another
// while it deploys to staging: after the restarts the tag exists once on
// the released commit, the release is recorded once, staging has exactly
// one deployment of it, succeeded, and nothing of the killed runs is left.
// On SQLite and on PostgreSQL. (docs/lifecycle.md I20)
func TestReleaseSurvivesKills(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the lifecycle with real processes and real kills")
	}
	eachDialect(t, releaseSurvivesKills)
}

func releaseSurvivesKills(t *testing.T, d store.Dialect) {
	o := newScriptedOrg(t, d, releaseCrashScript, "true", "true")
	envs := t.TempDir()
	// The deploy says it started, then takes long enough to be killed in.
	section := fmt.Sprintf(`
release:
  agent: coder
environments:
  - name: staging
    auto: release
    deploy: echo started >> %[1]s/staging.runs && sleep 3.21 && echo "$AGENTORG_VERSION" > %[1]s/staging.version
    verify: test -f %[1]s/staging.version
`, envs)
	f, err := os.OpenFile(o.wf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(section)
	f.Close()
	var servers []*server
	t.Cleanup(func() {
		for _, s := range servers {
			if !s.exited() {
				s.kill(t)
			}
		}
	})
	once := func() {
		t.Helper()
		s := o.serve(t, len(servers)+1)
		servers = append(servers, s)
		select {
		case <-s.done:
		case <-time.After(2 * time.Minute):
			t.Fatalf("serve --once did not end:\n%s", s.output())
		}
	}
	var created crashIssue
	o.cliJSON(t, &created, "issue", "new", "--title", "feat: greet", "--opt-in", "--as", "alice")
	for _, gate := range []string{"plan:review", "mr:ready-for-review"} {
		once()
		if is := o.issue(t, created.Number); !strings.Contains(strings.Join(is.Labels, ","), gate) {
			t.Fatalf("#%d at %v, want %s:\n%s", created.Number, is.Labels, gate, servers[len(servers)-1].output())
		}
		o.cli(t, "approve", fmt.Sprint(created.Number), "--as", "alice")
	}
	once() // merged, E2E passed
	var rel crashIssue
	o.cliJSON(t, &rel, "release", "--as", "alice")
	once() // drafted: waits at the release gate
	if is := o.issue(t, rel.Number); !strings.Contains(strings.Join(is.Labels, ","), "release:review") {
		t.Fatalf("the release #%d at %v:\n%s", rel.Number, is.Labels, servers[len(servers)-1].output())
	}
	o.cli(t, "approve", fmt.Sprint(rel.Number), "--as", "alice")

	// Kill while publishing, then while deploying.
	killAt := func(what string, reached func() bool) {
		t.Helper()
		s := o.serve(t, len(servers)+1)
		servers = append(servers, s)
		deadline := time.Now().Add(time.Minute)
		for !reached() {
			if s.exited() || time.Now().After(deadline) {
				t.Fatalf("serve never reached %s:\n%s", what, s.output())
			}
			time.Sleep(5 * time.Millisecond)
		}
		s.kill(t)
	}
	killAt("release:publishing", func() bool {
		return strings.Contains(strings.Join(o.issue(t, rel.Number).Labels, ","), "release:publishing")
	})
	killAt("the staging deploy", func() bool {
		// Its line written, not only the file made: the shell opens the
		// file before echo writes, and a kill in between (under load)
		// left an empty file, so the restart's run seemed the only one.
		b, _ := os.ReadFile(filepath.Join(envs, "staging.runs"))
		return strings.Contains(string(b), "started")
	})
	time.Sleep(100 * time.Millisecond)
	once()

	if tags := strings.Fields(gitOut(t, o.origin, "tag", "-l")); len(tags) != 1 || tags[0] != "v0.1.0" {
		t.Fatalf("tags in the origin: %v", tags)
	}
	var rels []struct {
		Version, Commit string
		Published       bool
	}
	o.cliJSON(t, &rels, "release", "list")
	if len(rels) != 1 || !rels[0].Published || gitOut(t, o.origin, "rev-parse", "v0.1.0^{commit}") != rels[0].Commit {
		t.Fatalf("releases: %+v", rels)
	}
	var st []struct {
		Env, Version string
		Last         *struct{ Version, State string }
	}
	o.cliJSON(t, &st, "deploy", "status")
	if len(st) != 1 || st[0].Version != "0.1.0" || st[0].Last == nil || st[0].Last.State != "succeeded" {
		t.Fatalf("deploy status: %+v", st)
	}
	var shown struct {
		Deployments []struct{ Env, State string }
	}
	o.cliJSON(t, &shown, "release", "show", "v0.1.0")
	if len(shown.Deployments) != 1 || shown.Deployments[0].State != "succeeded" {
		t.Fatalf("the release's deployments, want exactly one succeeded: %+v", shown.Deployments)
	}
	if b, _ := os.ReadFile(filepath.Join(envs, "staging.runs")); strings.Count(string(b), "started") != 2 {
		t.Fatalf("the deploy command ran %d times, want 2 (killed once, finished once): the kill missed it", strings.Count(string(b), "started"))
	}
	if b, _ := os.ReadFile(filepath.Join(envs, "staging.version")); strings.TrimSpace(string(b)) != "0.1.0" {
		t.Fatalf("staging runs %q", b)
	}
	if left := procsWhere(func(cmdline, _ string) bool { return strings.Contains(cmdline, "sleep 3.21") }); len(left) > 0 {
		t.Fatalf("the killed deploy is still running: %v", left)
	}
	if is := o.issue(t, rel.Number); is.State != "closed" {
		t.Fatalf("the release issue is %s %v after its deployment", is.State, is.Labels)
	}
	cl := gitOut(t, o.origin, "show", "main:CHANGELOG.md")
	if strings.Count(cl, "## v0.1.0") != 1 {
		t.Fatalf("CHANGELOG on main:\n%s", cl)
	}
}
