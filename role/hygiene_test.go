package role_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/orgtest"
)

// What an attacker would try: more than text, made by a developer agent for
// real. Validation says NO-GO with a finding for each, and the origin never
// holds any of it.
func TestHygieneRefusesMoreThanText(t *testing.T) {
	script := `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer}
    actions:
      - shell: |
          set -e
          ln -s /etc/passwd passwd-link
          ln -s ../../secret up-link
          ln -s calc.go in-link
          git init -q sub
          git -C sub -c user.name=a -c user.email=a@b commit -q --allow-empty -m nested
          printf '[submodule "sub"]\n\tpath = sub\n\turl = https://example.com/x.git\n' > .gitmodules
          mkdir -p .github/workflows
          printf 'on: push\n' > .github/workflows/x.yml
          chmod +x README.md
          mkdir many
          (cd many && seq -f 'f%05g' 1 10000 | xargs touch)
          head -c 20971520 /dev/zero | tr '\0' x > big.txt
          echo >> big.txt
    summary: Done.
`
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true", Edit: setBudget(1, "")})
	n, _ := start(t, org, "No criteria.")
	as := attempts(t, org, n)
	if len(as) != 1 {
		t.Fatalf("%d attempts", len(as))
	}
	want := "hygiene:bytes: hygiene:bytes:big.txt hygiene:files: hygiene:mode:README.md hygiene:path:.github/workflows/x.yml " +
		"hygiene:submodule:.gitmodules hygiene:submodule:sub hygiene:symlink:passwd-link hygiene:symlink:up-link"
	if got := strings.Join(as[0].FindingKeys(), " "); got != want {
		t.Fatalf("findings\n got %s\nwant %s", got, want)
	}
	for _, text := range []string{
		"Hygiene: `passwd-link` is a symbolic link to `/etc/passwd`, an absolute path, outside the repository; replace it with a regular file, or with a relative link to a file inside the repository.",
		"Hygiene: `up-link` is a symbolic link to `../../secret`, which climbs out of the repository;",
		"Hygiene: `sub` adds a submodule (a gitlink, mode 160000); agents never add, change or remove submodules: take it out (`git rm --cached sub`).",
		"Hygiene: `.gitmodules` (which declares submodules) is changed;",
		"Hygiene: `README.md` changes mode 100644 → 100755 (executable); restore its mode (`chmod -x README.md`)",
		"Hygiene: `.github/workflows/x.yml` matches the denied path `.github/**`; do not add it.",
		"Hygiene: the change touches 10008 files, over the limit of 500;",
		"Hygiene: `big.txt` adds 21.0 MB (one line of 21.0 MB), over the limit of 1.0 MB for one file;",
	} {
		if !strings.Contains(as[0].Report, text) {
			t.Errorf("report lacks %q", text)
		}
	}
	if strings.Contains(as[0].Report, "in-link") {
		t.Error("a link inside the repository is reported")
	}
	assertOriginLacks(t, org, []string{"passwd-link", "up-link", ".gitmodules", ".github/workflows/x.yml", "big.txt", "many/f00001"},
		[]string{"/etc/passwd", "../../secret", "[submodule", "on: push", strings.Repeat("x", 1000)})
}

// An agent that commits by itself, under its own name, with a private key
// in the message: validation refuses the commit (the guard), or the engine
// folded it into its own (then nothing of it is left). Either way the
// origin never sees the key.
func TestHygieneRefusesAnAgentsOwnCommit(t *testing.T) {
	key := "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----"
	token := "ghp_aaaaBBBBccccDDDDeeeeFFFFggggHHHH1234"
	script := fmt.Sprintf(`
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer}
    actions:
      - write: {path: feature.txt, content: "hello\n"}
      - shell: |
          set -e
          git add -A
          git -c user.name=Mallory -c user.email=m@example.com commit -q -F - <<'EOF'
          wip

          %s
          token %s
          EOF
    summary: Done.
`, strings.ReplaceAll(key, "\n", "\n          "), token)
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true", Edit: setBudget(1, "")})
	n, _ := start(t, org, "No criteria.")
	as := attempts(t, org, n)
	if len(as) != 1 || as[0].CommitSHA == "" {
		t.Fatalf("attempts %+v", as)
	}
	mirror := filepath.Join(org.Home, "mirror.git")
	sha := as[0].CommitSHA
	if authors := orgtest.Git(t, mirror, "log", "--format=%an", "refs/remotes/origin/main.."+sha); strings.Contains(authors, "Mallory") {
		// The agent's commit is in the branch: the guard must fire.
		t.Log("the agent's commit is in the branch")
		want := fmt.Sprintf("hygiene:identity:%.12s hygiene:message:%.12s", sha, sha)
		if got := strings.Join(as[0].FindingKeys(), " "); got != want {
			t.Fatalf("findings\n got %s\nwant %s", got, want)
		}
		for _, text := range []string{
			fmt.Sprintf("Hygiene: commit %.10s was made by `Mallory <m@example.com>`, not by agentorg (`agentorg <agentorg@agentorg.invalid>`); agentorg commits your work itself", sha),
			fmt.Sprintf("Hygiene: the message of commit %.10s looks like it holds a private key;", sha),
		} {
			if !strings.Contains(as[0].Report, text) {
				t.Errorf("report lacks %q:\n%s", text, as[0].Report)
			}
		}
	} else if strings.Contains(orgtest.Git(t, mirror, "log", "--format=%B", "refs/remotes/origin/main.."+sha), "PRIVATE KEY") {
		t.Fatal("the agent's commit was folded, but its message was kept")
	}
	for _, secret := range []string{token, "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"} {
		if strings.Contains(as[0].Report, secret) {
			t.Errorf("the report leaks %s", secret)
		}
	}
	assertOriginLacks(t, org, nil, []string{"PRIVATE KEY", token, "Mallory"})
}

// assertOriginLacks fails when any object of the origin (reachable or not)
// has one of paths, or holds one of texts.
func assertOriginLacks(t *testing.T, org *orgtest.Org, paths, texts []string) {
	t.Helper()
	objects := orgtest.Git(t, org.Origin, "rev-list", "--objects", "--all")
	for _, line := range strings.Split(objects, "\n") {
		_, path, _ := strings.Cut(line, " ")
		for _, p := range paths {
			if path == p || strings.HasPrefix(path, p+"/") {
				t.Errorf("the origin has %s", path)
			}
		}
	}
	all := orgtest.Git(t, org.Origin, "cat-file", "--batch-all-objects", "--batch")
	for _, text := range texts {
		if strings.Contains(all, text) {
			t.Errorf("an object of the origin holds %q", text)
		}
	}
}

// Under modes: report a mode change is shown in the report, not counted:
// the change goes on.
func TestModeChangesOnlyReported(t *testing.T) {
	script := `
steps:
  - match: {role: pm}
    summary: plan
  - match: {role: developer}
    actions:
      - write: {path: feature.txt, content: "hello\n"}
      - shell: chmod +x README.md
    summary: Done.
`
	org := orgtest.New(t, orgtest.Options{Script: script, Check: "true", E2E: "true", Edit: func(s string) string {
		return strings.Replace(s, "  modes: refuse\n", "  modes: report\n", 1)
	}})
	n, _ := start(t, org, "No criteria.")
	as := attempts(t, org, n)
	if len(as) != 1 || as[0].Verdict != eventlog.GO || len(as[0].FindingKeys()) != 0 {
		t.Fatalf("attempts %+v", as)
	}
	if want := "### Hygiene notes (not counted)\n\n- `README.md` changes mode 100644 → 100755 (executable)\n"; !strings.Contains(as[0].Report, want) {
		t.Fatalf("report lacks %q:\n%s", want, as[0].Report)
	}
}
