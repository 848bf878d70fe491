package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/pgtest"
	"github.com/agentorg/agentorg/sample"
	"github.com/agentorg/agentorg/workflow"
)

// The soak (issue 15) runs the organization as a team would for a while:
// `serve` as a daemon with stage concurrency above one, a human approving
// plans and merge requests every second, scripted developers of mixed
// behaviour, and kill -9 of serve at random moments; then it audits what
// landed. It is long, so it runs only when asked:
//
//	go test ./cmd/agentorg -run TestSoak -soak 60 -timeout 2h -v
//
// Its figures are in docs/soak.md.
var (
	soakIssues = flag.Int("soak", 0, "run TestSoak with this many issues (0 skips it)")
	soakKill   = flag.Duration("soak.kill", 20*time.Second, "TestSoak: mean time between kill -9 of serve (0: never)")
	soakSeed   = flag.Uint64("soak.seed", 0, "TestSoak: the random seed of the kills (0: from the clock)")
	soakIntent = flag.Bool("soak.intent", true, "TestSoak: plans state the files they change (## Intent), so that issues sharing a file develop one after the other")
	soakPG     = flag.Bool("soak.postgres", false, "TestSoak: on a PostgreSQL database of its own (see package pgtest), not the home's SQLite file")
)

// soakKind is what an issue's scripted developer does.
type soakKind string

const (
	soakGood     soakKind = "good"    // one correct attempt
	soakRegress  soakKind = "regress" // a failing test first, then the fix
	soakJunk     soakKind = "junk"    // the change plus a log and .DS_Store
	soakDenied   soakKind = "denied"  // the change plus a file under .agentorg/, removed when told
	soakShared   soakKind = "shared"  // an entry in registry.go, which every shared issue edits
	soakNever    soakKind = "never"   // a test that always fails the same way
	soakRegistry          = "registry.go"
)

func soakKindOf(k int) soakKind {
	switch {
	case k%20 == 19:
		return soakNever
	case k%10 == 6 || k%10 == 7:
		return soakShared
	case k%10 == 4:
		return soakRegress
	case k%10 == 5:
		return soakJunk
	case k%10 == 8:
		return soakDenied
	}
	return soakGood
}

// soakScript is the scripted agents' script for n issues: one set of
// developer steps per issue, matched by its number.
func soakScript(n int) string {
	var b strings.Builder
	b.WriteString("steps:\n")
	if *soakIntent {
		for k := 1; k <= n; k++ {
			files := fmt.Sprintf("f%03d.go, f%03d_test.go", k, k)
			if soakKindOf(k) == soakShared {
				files += ", " + soakRegistry
			}
			fmt.Fprintf(&b, "  - match: {role: pm, issue: %d}\n    summary: %q\n", k,
				"Plan: the change the title names; the checks are the criteria.\n\n## Intent\n- files: "+files+"\n")
		}
	}
	b.WriteString("  - match: {role: pm}\n    summary: \"Plan: the change the title names; the checks are the criteria.\"\n")
	step := func(k int, match, summary string, actions ...string) {
		fmt.Fprintf(&b, "  - match: {role: developer, issue: %d%s}\n    actions:\n", k, match)
		for _, a := range actions {
			fmt.Fprintf(&b, "      - %s\n", a)
		}
		fmt.Fprintf(&b, "    summary: %q\n", summary)
	}
	write := func(path, content string) string { return fmt.Sprintf("write: {path: %q, content: %q}", path, content) }
	shell := func(cmd string) string { return fmt.Sprintf("shell: %q", cmd) }
	for k := 1; k <= n; k++ {
		name := fmt.Sprintf("F%03d", k)
		file := fmt.Sprintf("f%03d.go", k)
		code := fmt.Sprintf("package calc\n\n// %s returns %d.\nfunc %s() int { return %d }\n", name, k, name, k)
		test := func(want int) string {
			return fmt.Sprintf("package calc\n\nimport \"testing\"\n\nfunc Test%s(t *testing.T) {\n\tif got := %s(); got != %d {\n\t\tt.Fatalf(\"%s() = %%d, want %d\", got)\n\t}\n}\n", name, name, want, name, want)
		}
		testFile := fmt.Sprintf("f%03d_test.go", k)
		switch soakKindOf(k) {
		case soakGood:
			step(k, "", "Added "+name+".", write(file, code))
		case soakRegress:
			step(k, ", attempt: 1", "Added "+name+" and its test.", write(file, code), write(testFile, test(k+1)))
			step(k, "", "Fixed the test of "+name+".", write(file, code), write(testFile, test(k)))
		case soakJunk:
			step(k, "", "Added "+name+".", write(file, code), write(fmt.Sprintf("debug-%03d.log", k), "PASS\n"), write(".DS_Store", "Bud1\n"))
		case soakDenied:
			notes := fmt.Sprintf(".agentorg/notes-%03d.md", k)
			step(k, ", attempt: 1", "Added "+name+", with notes.", write(file, code), write(notes, "notes\n"))
			step(k, "", "Added "+name+"; removed the notes.", write(file, code), shell("rm -f "+notes))
		case soakShared:
			item := fmt.Sprintf("item%03d", k)
			step(k, ", prompt: \"conflicts with your change in\"", "Resolved the conflict in registry.go, keeping both entries.",
				shell(`sed -i -e '/^<<<<<<< /d' -e '/^=======$/d' -e '/^>>>>>>> /d' -e '/^||||||| /d' `+soakRegistry))
			step(k, "", "Registered "+item+".", write(file, code),
				shell(fmt.Sprintf(`grep -q '"%s"' %s || sed -i 's/^}$/\t"%s",\n}/' %s`, item, soakRegistry, item, soakRegistry)))
		case soakNever:
			step(k, "", "Added "+name+" and its test.", write(file, code), write(testFile, test(k+1)))
		}
	}
	return b.String()
}

// soakCLI runs the agentorg binary without a test to fail: the human loop
// runs beside the test's goroutine.
func soakCLI(dir string, env []string, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(baseEnv(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("agentorg %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

func TestSoak(t *testing.T) {
	n := *soakIssues
	if n <= 0 {
		t.Skip("the soak runs with -soak N (see docs/soak.md)")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "soak-script.yaml")
	if err := os.WriteFile(script, []byte(soakScript(n)), 0o644); err != nil {
		t.Fatal(err)
	}
	sessions := filepath.Join(dir, "sessions")
	if err := os.MkdirAll(sessions, 0o755); err != nil {
		t.Fatal(err)
	}
	text := string(workflow.Default(workflow.DefaultOptions{
		Approvers: []string{"alice"}, TargetBranch: "main", RepoURL: "../origin.git",
		Check:        "go vet ./... && go test ./...",
		E2E:          "go vet ./... && go test -count=1 ./...",
		AgentCommand: []string{bin, "scripted-agent", "--script", script, "--state", sessions},
		Agent:        workflow.AgentOptions{Writable: []string{sessions + "/"}},
	}))
	// Validation runs two at once too.
	text = strings.Replace(text, "    running: validate:running\n", "    running: validate:running\n    concurrency: 2\n", 1)
	repo, origin, err := sample.Make(context.Background(), filepath.Join(dir, "sample"), map[string]string{
		workflow.DefaultPath: text,
		soakRegistry:         "package calc\n\n// Registry lists what the issues registered.\nvar Registry = []string{\n}\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	env := []string{"AGENTORG_HOME=" + home, "AGENTORG_WORKFLOW=" + filepath.Join(repo, workflow.DefaultPath)}
	if *soakPG {
		env = append(env, "AGENTORG_DATABASE="+pgtest.New(t))
	}
	cli := func(args ...string) string {
		t.Helper()
		out, err := soakCLI(dir, env, args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for k := 1; k <= n; k++ {
		out := cli("issue", "new", "--title", fmt.Sprintf("Soak %03d (%s)", k, soakKindOf(k)), "--body", "The checks are the criteria.", "--opt-in", "--as", "alice")
		if !strings.HasPrefix(out, fmt.Sprintf("#%d ", k)) {
			t.Fatalf("issue %d was numbered otherwise: %s", k, out)
		}
	}

	began := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var approvals int
	wg.Add(1)
	go func() { // the human: approves whatever waits, every second
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
			out, err := soakCLI(dir, env, "issue", "list", "--json")
			if err != nil {
				continue
			}
			var issues []crashIssue
			if json.Unmarshal([]byte(out), &issues) != nil {
				continue
			}
			for _, is := range issues {
				if is.State == "open" && (slices.Contains(is.Labels, "plan:review") || slices.Contains(is.Labels, "mr:ready-for-review")) {
					if _, err := soakCLI(dir, env, "approve", fmt.Sprint(is.Number), "--as", "alice"); err == nil {
						approvals++
					}
				}
			}
		}
	}()

	seed := *soakSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	rng := rand.New(rand.NewPCG(seed, seed))
	serveLogs := filepath.Join(dir, "serve.log")
	start := func() *exec.Cmd {
		f, err := os.OpenFile(serveLogs, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd := exec.Command(bin, "serve", "--poll", "1s")
		cmd.Dir, cmd.Env = dir, append(baseEnv(), env...)
		cmd.Stdout, cmd.Stderr = f, f
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	atRest := func() bool {
		var issues []crashIssue
		out, err := soakCLI(dir, env, "issue", "list", "--json")
		if err != nil || json.Unmarshal([]byte(out), &issues) != nil {
			return false
		}
		for _, is := range issues {
			if is.State == "open" && !slices.Contains(is.Labels, "needs:human") {
				return false
			}
		}
		return len(issues) == n
	}
	srv := start()
	kills := 0
	nextKill := time.Now().Add(soakNextKill(rng))
	deadline := time.Now().Add(time.Duration(n)*30*time.Second + 5*time.Minute)
	for !atRest() {
		if time.Now().After(deadline) {
			close(stop)
			wg.Wait()
			srv.Process.Kill()
			srv.Wait()
			t.Fatalf("the issues did not come to rest in time; the open ones:\n%s", cli("status"))
		}
		if *soakKill > 0 && time.Now().After(nextKill) {
			srv.Process.Signal(syscall.SIGKILL)
			srv.Wait()
			kills++
			srv = start()
			nextKill = time.Now().Add(soakNextKill(rng))
		}
		time.Sleep(2 * time.Second)
	}
	elapsed := time.Since(began)
	close(stop)
	wg.Wait()
	srv.Process.Signal(syscall.SIGTERM)
	srv.Wait()

	audit := soakAudit(t, dir, env, origin, n)
	audit.Elapsed, audit.Kills, audit.Seed, audit.Approvals = elapsed.Round(time.Second).String(), kills, seed, approvals
	audit.PerHour = float64(n) / elapsed.Hours()
	out, _ := json.MarshalIndent(audit, "", "  ")
	t.Logf("soak figures:\n%s", out)
	if logs, _ := os.ReadFile(serveLogs); bytes.Contains(logs, []byte("panic:")) {
		t.Errorf("serve panicked:\n%s", logs)
	}
}

// soakNextKill is the time to the next kill: uniform around the mean.
func soakNextKill(rng *rand.Rand) time.Duration {
	return time.Duration((0.5 + rng.Float64()) * float64(*soakKill))
}

// soakFigures is what the soak measured.
type soakFigures struct {
	Issues    int     `json:"issues"`
	Elapsed   string  `json:"elapsed"`
	PerHour   float64 `json:"issues_at_rest_per_hour"`
	Kills     int     `json:"kills"`
	Seed      uint64  `json:"seed"`
	Approvals int     `json:"approvals"`
	// By kind: how many, and how many merged.
	Kinds  map[soakKind]int `json:"kinds"`
	Merged map[soakKind]int `json:"merged"`
	// Attempts per merged issue: the developer's, and all (the engine's
	// re-validations included).
	DeveloperAttempts float64 `json:"developer_attempts_per_merged_issue"`
	AllAttempts       float64 `json:"attempts_per_merged_issue"`
	// The developer's attempts per merged issue, by kind.
	AttemptsByKind map[soakKind]float64 `json:"developer_attempts_by_kind"`
	// Escalations by cause (the reason's words before its details).
	Escalations        map[string]int `json:"escalations"`
	ConflictsResolved  int            `json:"conflicts_resolved"`
	MergeRequestsAbove int            `json:"issues_with_more_than_one_merge_request"`
}

type soakShow struct {
	State         string             `json:"state"`
	Labels        []string           `json:"labels"`
	Attempts      []eventlog.Attempt `json:"attempts"`
	MergeRequests []struct {
		Number int64  `json:"number"`
		State  string `json:"state"`
	} `json:"merge_requests"`
}

// soakAudit checks what landed against what each issue's developer did,
// and counts.
func soakAudit(t *testing.T, dir string, env []string, origin string, n int) soakFigures {
	t.Helper()
	f := soakFigures{Issues: n, Kinds: map[soakKind]int{}, Merged: map[soakKind]int{}, Escalations: map[string]int{}, AttemptsByKind: map[soakKind]float64{}}
	check := filepath.Join(dir, "main")
	if out, err := exec.Command("git", "clone", "--quiet", "--branch", "main", origin, check).CombinedOutput(); err != nil {
		t.Fatalf("clone main: %v\n%s", err, out)
	}
	registry, err := os.ReadFile(filepath.Join(check, soakRegistry))
	if err != nil {
		t.Fatal(err)
	}
	var devAttempts, allAttempts, merged int
	for k := 1; k <= n; k++ {
		kind := soakKindOf(k)
		f.Kinds[kind]++
		out, err := soakCLI(dir, env, "issue", "show", fmt.Sprint(k), "--json")
		if err != nil {
			t.Fatal(err)
		}
		var is soakShow
		if err := json.Unmarshal([]byte(out), &is); err != nil {
			t.Fatalf("issue show %d: %v", k, err)
		}
		if len(is.MergeRequests) > 1 {
			f.MergeRequestsAbove++
			t.Errorf("#%d has %d merge requests", k, len(is.MergeRequests))
		}
		_, inMain := os.Stat(filepath.Join(check, fmt.Sprintf("f%03d.go", k)))
		done := is.State == "closed" && slices.Contains(is.Labels, "e2e:done")
		if done != (inMain == nil) {
			t.Errorf("#%d (%s): closed at e2e:done %v, but its file in main: %v", k, kind, done, inMain == nil)
		}
		if done {
			f.Merged[kind]++
			merged++
			for i, a := range is.Attempts {
				allAttempts++
				if a.Agent != "engine" {
					devAttempts++
					f.AttemptsByKind[kind]++
				}
				if slices.ContainsFunc(a.FindingKeys(), func(k string) bool { return strings.HasPrefix(k, "conflict:") }) &&
					slices.ContainsFunc(is.Attempts[i+1:], func(b eventlog.Attempt) bool { return b.Verdict == eventlog.GO }) {
					f.ConflictsResolved++
				}
			}
			if kind == soakShared && !bytes.Contains(registry, []byte(fmt.Sprintf("%q", fmt.Sprintf("item%03d", k)))) {
				t.Errorf("#%d merged, but its entry is missing from main's registry.go:\n%s", k, registry)
			}
		}
		if kind == soakNever && done {
			t.Errorf("#%d never passes its test, yet it merged", k)
		}
		if kind != soakNever && !done {
			var as []string
			for _, a := range is.Attempts {
				as = append(as, fmt.Sprintf("%d %s %s by %s [%s]", a.N, a.Verdict, a.Agent, a.FoundBy, strings.Join(a.FindingKeys(), " ")))
			}
			t.Errorf("#%d (%s) did not merge: %s; attempts:\n  %s", k, kind, strings.Join(is.Labels, " "), strings.Join(as, "\n  "))
		}
		if slices.Contains(is.Labels, "needs:human") {
			evs, err := soakCLI(dir, env, "events", "--issue", fmt.Sprint(k), "--json")
			if err != nil {
				t.Fatal(err)
			}
			var es []eventlog.Event
			if err := json.Unmarshal([]byte(evs), &es); err != nil {
				t.Fatal(err)
			}
			cause := "(no escalation event)"
			for _, e := range es {
				if e.Kind == eventlog.KindEscalate {
					cause = e.Reason
				}
			}
			t.Logf("#%d (%s) escalated: %s", k, kind, cause)
			if i := strings.IndexAny(cause, ":("); i > 0 {
				cause = strings.TrimSpace(cause[:i])
			}
			f.Escalations[cause]++
			if kind != soakNever {
				t.Errorf("#%d (%s) escalated: %s", k, kind, cause)
			}
		}
	}
	for kind, sum := range f.AttemptsByKind {
		f.AttemptsByKind[kind] = sum / float64(f.Merged[kind])
	}
	if merged > 0 {
		f.DeveloperAttempts = float64(devAttempts) / float64(merged)
		f.AllAttempts = float64(allAttempts) / float64(merged)
	}

	// main is green, holds no conflict marker, and its history no junk
	// and nothing under .agentorg/ but the workflow.
	vet := exec.Command("sh", "-c", "go vet ./... && go test -count=1 ./...")
	vet.Dir, vet.Env = check, baseEnv()
	if out, err := vet.CombinedOutput(); err != nil {
		t.Errorf("main is red: %v\n%s", err, out)
	}
	if out, _ := exec.Command("git", "-C", check, "grep", "-n", "-E", "^(<<<<<<< |=======$|>>>>>>> )").CombinedOutput(); len(out) > 0 {
		t.Errorf("conflict markers on main:\n%s", out)
	}
	objects, err := exec.Command("git", "-C", origin, "rev-list", "--objects", "--all").Output()
	if err != nil {
		t.Fatal(err)
	}
	var bad []string
	for _, line := range strings.Split(string(objects), "\n") {
		_, path, _ := strings.Cut(line, " ")
		if strings.HasSuffix(path, ".log") || strings.HasSuffix(path, ".DS_Store") || strings.HasPrefix(path, ".agentorg/notes-") {
			bad = append(bad, path)
		}
	}
	sort.Strings(bad)
	if bad = slices.Compact(bad); len(bad) > 0 {
		t.Errorf("the origin's history holds what must never land: %v", bad)
	}
	return f
}
