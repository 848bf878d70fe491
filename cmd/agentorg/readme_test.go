package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/agent/clitest"
	"github.com/agentorg/agentorg/modelserver"
)

// readmeSteps returns the command lines of the README's "Using it on your
// repository" block, comments cut off.
func readmeSteps(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(clitest.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Using it on your repository\n")
	if !ok {
		t.Fatal("README has no \"Using it on your repository\" section")
	}
	_, block, ok := strings.Cut(section, "```sh\n")
	if !ok {
		t.Fatal("the section has no sh block")
	}
	block, _, _ = strings.Cut(block, "```")
	var steps []string
	for _, line := range strings.Split(block, "\n") {
		if i := strings.Index(line, "  #"); i >= 0 {
			line = line[:i]
		}
		if line = strings.TrimSpace(line); line != "" {
			steps = append(steps, line)
		}
	}
	return steps
}

// newUser is a machine as a new user has it: a fresh HOME whose ~/bin is on
// PATH, the real Codex CLI installed and pointed (by its own config file)
// at the scripted model server, Go and git; and their repository, a Go
// module on master with master checked out, and issue.md.
type newUser struct {
	home, repo string
	env        []string
	model      *modelserver.Server
}

func setUpNewUser(t *testing.T) *newUser {
	t.Helper()
	codex := clitest.Find(t, "codex")
	root := t.TempDir()
	u := &newUser{home: filepath.Join(root, "home"), repo: filepath.Join(root, "your-repo")}
	u.model = modelserver.New(readmeModel)
	t.Cleanup(u.model.Close)

	// Only codex on PATH among the coding CLIs, so that init finds it.
	clis := filepath.Join(root, "clis")
	for _, d := range []string{filepath.Join(u.home, "bin"), filepath.Join(u.home, ".codex"), clis, u.repo} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(codex, filepath.Join(clis, "codex")); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`model = "gpt-5.5"
model_provider = "scripted"

[model_providers.scripted]
name = "scripted"
base_url = %q
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
`, u.model.URL()+"/v1")
	if err := os.WriteFile(filepath.Join(u.home, ".codex", "config.toml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}

	path := []string{filepath.Join(u.home, "bin"), clis}
	for _, tool := range []string{"node", "go", "git"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("%s is not installed", tool)
		}
		path = append(path, filepath.Dir(p))
	}
	path = append(path, "/usr/local/bin", "/usr/bin", "/bin")
	u.env = []string{"HOME=" + u.home, "PATH=" + strings.Join(path, ":"), "LANG=C.UTF-8", "CGO_ENABLED=0",
		"GIT_CONFIG_NOSYSTEM=1"}
	// The Go caches as they are, so that the build is not a cold one.
	for _, k := range []string{"GOPATH", "GOCACHE", "GOMODCACHE", "GOPROXY", "GOFLAGS", "GOTOOLCHAIN"} {
		out, err := exec.Command("go", "env", k).Output()
		if err == nil && strings.TrimSpace(string(out)) != "" {
			u.env = append(u.env, k+"="+strings.TrimSpace(string(out)))
		}
	}

	files := map[string]string{
		"go.mod":       "module example.com/calc\n\ngo 1.22\n",
		"calc.go":      "// Package calc adds.\npackage calc\n\n// Add returns a + b.\nfunc Add(a, b int) int { return a + b }\n",
		"calc_test.go": "package calc\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {\n\tif Add(2, 3) != 5 {\n\t\tt.Fatal(\"Add(2, 3) != 5\")\n\t}\n}\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(u.repo, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	u.sh(t, u.repo, "git init --quiet -b master && git config user.name alice && git config user.email alice@example.com && git add -A && git commit --quiet -m 'calc: Add'")
	issue := "calc needs subtraction.\n\n## Acceptance criteria\n- [ ] Sub(a, b) returns a - b\n- [ ] `go test ./...` passes\n"
	if err := os.WriteFile(filepath.Join(u.repo, "issue.md"), []byte(issue), 0o644); err != nil {
		t.Fatal(err)
	}
	return u
}

// sh runs one command line with sh, as a user's shell would, and fails the
// test unless it exits 0.
func (u *newUser) sh(t *testing.T, dir, line string) string {
	t.Helper()
	out, code := u.try(dir, line)
	if code != 0 {
		t.Fatalf("in %s: %s: exit %d\n%s", dir, line, code, out)
	}
	return out
}

func (u *newUser) try(dir, line string) (string, int) {
	cmd := exec.Command("sh", "-c", line)
	cmd.Dir = dir
	cmd.Env = u.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), ee.ExitCode()
	}
	if err != nil {
		return out.String() + err.Error(), -1
	}
	return out.String(), 0
}

// play runs README steps in order from dir (this repository's root), `cd`
// included, with your-repo standing for the user's repository; it returns
// the directory it ended in and each step's output.
func (u *newUser) play(t *testing.T, steps []string) (string, []string) {
	t.Helper()
	dir := clitest.RepoRoot()
	var outs []string
	for _, step := range steps {
		step = strings.ReplaceAll(step, "your-repo", u.repo)
		if target, ok := strings.CutPrefix(step, "cd "); ok {
			dir = target
			outs = append(outs, "")
			continue
		}
		outs = append(outs, u.sh(t, dir, step))
	}
	return dir, outs
}

// The README's "Using it on your repository", typed as written by a new
// user on their own repository on master: the issue is planned, approved,
// developed, validated, approved again and merged, and their working tree
// shows the change (docs/lifecycle.md I12).
func TestREADMEOnYourOwnRepository(t *testing.T) {
	steps := readmeSteps(t)
	if len(steps) < 10 || !strings.HasPrefix(steps[0], "go build") || steps[1] != "cd your-repo" {
		t.Fatalf("the README's steps changed shape: %q", steps)
	}
	u := setUpNewUser(t)
	_, outs := u.play(t, steps)

	wf, err := os.ReadFile(filepath.Join(u.repo, ".agentorg", "workflow.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"target_branch: master", "kind: codex", `run: "go vet ./... && go test ./..."`, `approvers: ["alice"]`} {
		if !strings.Contains(string(wf), want) {
			t.Fatalf("init wrote no %q:\n%s", want, wf)
		}
	}
	for i, step := range steps {
		if step == "agentorg status" && !strings.Contains(outs[i], "WAITING FOR A HUMAN") {
			t.Fatalf("agentorg status after the plan:\n%s", outs[i])
		}
	}
	if got := u.sh(t, u.repo, "cat sub.go"); !strings.Contains(got, "func Sub(a, b int) int { return a - b }") {
		t.Fatalf("the working tree does not show the change: sub.go is\n%s", got)
	}
	if st := u.sh(t, u.repo, "git status --porcelain --untracked-files=no"); st != "" {
		t.Fatalf("the working tree is not clean after the merge:\n%s", st)
	}
	// The home is outside the repository, .agentorg/state its link, which
	// git ignores (the status above).
	if home, err := os.Readlink(filepath.Join(u.repo, ".agentorg", "state")); err != nil || !strings.HasPrefix(home, filepath.Join(u.home, ".local", "state", "agentorg", "homes")+"/") {
		t.Fatalf(".agentorg/state: %q (%v), want a link into ~/.local/state/agentorg/homes", home, err)
	}
	if branch := strings.TrimSpace(u.sh(t, u.repo, "git symbolic-ref --short HEAD")); branch != "master" {
		t.Fatalf("HEAD is on %s", branch)
	}
	if log := outs[len(outs)-1]; !strings.Contains(log, "Merge branch 'agentorg/issue-1' into 'master'") {
		t.Fatalf("git log does not show the merge:\n%s", log)
	}
	if list := u.sh(t, u.repo, "agentorg issue list"); !strings.Contains(list, "closed") || !strings.Contains(list, "e2e:done") {
		t.Fatalf("the issue did not end merged and tested:\n%s", list)
	}
	// Codex did the work: the plan, the change and the verdict came from
	// the model through it.
	roles := map[string]bool{}
	for _, r := range u.model.Requests() {
		for _, phrase := range []string{"issue #1 of this repository", "Implement issue #1 in this", "#1 meets each acceptance criterion"} {
			if strings.Contains(string(r.Body), phrase) {
				roles[phrase] = true
			}
		}
	}
	if len(roles) != 3 {
		t.Fatalf("the model saw only %v of the PM's, the developer's and the validator's prompts", roles)
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("the steps' output:\n%s", strings.Join(outs, "\n----\n"))
	}
}

// The same, but a tracked file of the working tree is changed before the
// engine starts: serve refuses, says why, and no agent runs.
func TestREADMEWithADirtyWorkingTreeIsRefusedBeforeAnyAgentRuns(t *testing.T) {
	steps := readmeSteps(t)
	u := setUpNewUser(t)
	var before []string
	for _, s := range steps {
		if strings.HasPrefix(s, "agentorg serve") {
			break
		}
		before = append(before, s)
	}
	dir, _ := u.play(t, before)
	if err := os.WriteFile(filepath.Join(u.repo, "calc.go"), []byte("package calc // work in progress\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := u.try(dir, "agentorg serve --once")
	if code == 0 || !strings.Contains(out, "master is checked out in "+u.repo+", which has uncommitted changes (calc.go)") {
		t.Fatalf("serve --once on a dirty working tree: exit %d\n%s", code, out)
	}
	if n := len(u.model.Requests()); n != 0 {
		t.Fatalf("the model got %d requests: an agent ran", n)
	}
	if got := u.sh(t, u.repo, "cat calc.go"); got != "package calc // work in progress\n" {
		t.Fatalf("the user's change was touched: %q", got)
	}
	if st := u.sh(t, dir, "agentorg check"); !strings.Contains(st, "warning: the engine would not start") {
		t.Fatalf("check does not warn:\n%s", st)
	}
}

// readmeModel plays the model for the README's issue: the PM's plan, the
// developer's change, the validator's verdict.
var readmeModel = modelserver.Script{
	Usage: modelserver.Usage{InputTokens: 1200, OutputTokens: 80},
	Steps: []modelserver.Step{
		{Match: "issue #1 of this repository", Actions: []modelserver.Action{{Text: "## Goal\ncalc gains Sub.\n\n## Approach\nAdd sub.go and a test.\n\n## Acceptance criteria\n- [ ] Sub(a, b) returns a - b\n- [ ] `go test ./...` passes\n"}}},
		{Match: "Implement issue #1 in this", Actions: []modelserver.Action{
			{Write: &modelserver.Write{Path: "sub.go", Content: "package calc\n\n// Sub returns a - b.\nfunc Sub(a, b int) int { return a - b }\n"}},
			{Write: &modelserver.Write{Path: "sub_test.go", Content: "package calc\n\nimport \"testing\"\n\nfunc TestSub(t *testing.T) {\n\tif Sub(5, 3) != 2 {\n\t\tt.Fatal(\"Sub(5, 3) != 2\")\n\t}\n}\n"}},
			{Text: "Added Sub and its test."},
		}},
		{Match: "#1 meets each acceptance criterion", Actions: []modelserver.Action{{Text: "Judged from the code.\n\n```json\n" +
			`{"criteria": [{"id": 1, "verdict": "met", "evidence": "sub.go returns a - b; TestSub checks it"}]}` + "\n```\n"}}},
	},
}
