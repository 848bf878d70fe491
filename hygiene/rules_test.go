package hygiene

import (
	"fmt"
	"strings"
	"testing"
)

// one checks a single change under r and returns the findings' keys and
// the notes' keys.
func one(r Rules, ch Change) (findings, notes string) {
	res := Check(r, Input{Files: []Change{ch}})
	return keys(res.Findings), keys(res.Notes)
}

func TestLinkEscapes(t *testing.T) {
	cases := []struct {
		path, target string
		out          bool
	}{
		{"out", "/etc/passwd", true},
		{"link", "../../secret", true},
		{"a/b/link", "../../../x", true},
		{"link", "a/../b", true},      // a may be a link to "..": not provable inside
		{"a/link", "b/../../x", true}, // the same, deeper
		{"link", ".git/config", true},
		{"sub/link", "../.GIT/hooks/pre-commit", true},
		{"link", "x\n../../y", true},
		{"in", "t.sh", false},
		{"a/b/link", "../../secret", false}, // the repository's own secret file
		{"docs/link", "../README", false},
		{"link", ".", false},
		{"sub/link", "..", false},
		{"link", "./x//y/", false},
		{"a/link", "../a/./b", false},
		{"link", ".github", false}, // a name that starts like .git
	}
	for _, c := range cases {
		if got := linkEscapes(c.path, c.target) != ""; got != c.out {
			t.Errorf("linkEscapes(%q, %q) = %q, want out=%v", c.path, c.target, linkEscapes(c.path, c.target), c.out)
		}
	}
}

func TestSymlinkPolicies(t *testing.T) {
	out := Change{Path: "out", NewMode: "120000", OldMode: "", Link: "/etc/passwd", Added: 1}
	in := Change{Path: "in", NewMode: "120000", Link: "t.sh", Added: 1}
	changed := Change{Path: "in", OldMode: "120000", NewMode: "120000", Link: "../../secret", Added: 1, Deleted: 1}
	gone := Change{Path: "out", OldMode: "120000", Deleted: 1}
	cases := []struct {
		policy string
		ch     Change
		want   string
	}{
		{"", out, "hygiene:symlink:out"},
		{SymlinksInside, out, "hygiene:symlink:out"},
		{SymlinksInside, changed, "hygiene:symlink:in"},
		{SymlinksInside, in, ""},
		{SymlinksInside, gone, ""},
		{SymlinksNone, in, "hygiene:symlink:in"},
		{SymlinksNone, gone, ""},
		{SymlinksAny, out, ""},
	}
	for _, c := range cases {
		if got, _ := one(Rules{Symlinks: c.policy}, c.ch); got != c.want {
			t.Errorf("symlinks %q, %+v: %q, want %q", c.policy, c.ch, got, c.want)
		}
	}
	res := Check(Rules{}, Input{Files: []Change{out}})
	if want := "`out` is a symbolic link to `/etc/passwd`, an absolute path, outside the repository; replace it with a regular file, or with a relative link to a file inside the repository"; res.Findings[0].Text() != want {
		t.Errorf("text\n got %s\nwant %s", res.Findings[0].Text(), want)
	}
	// A target that is a secret is not repeated in the report.
	token := "ghp_" + strings.Repeat("a1B2", 9)
	res = Check(Rules{}, Input{Files: []Change{{Path: "l", NewMode: "120000", Link: "/" + token}}})
	noLeak(t, res.Findings, token)
}

func TestSubmodules(t *testing.T) {
	cases := []struct {
		ch   Change
		want string
	}{
		{Change{Path: "sub", NewMode: "160000", Added: 1}, "hygiene:submodule:sub"},
		{Change{Path: "sub", OldMode: "160000", NewMode: "160000", Added: 1, Deleted: 1}, "hygiene:submodule:sub"},
		{Change{Path: "sub", OldMode: "160000", Deleted: 1}, "hygiene:submodule:sub"},
		{Change{Path: ".gitmodules", NewMode: "100644", Added: 3}, "hygiene:submodule:.gitmodules"},
		{Change{Path: ".gitmodules", OldMode: "100644", Deleted: 3}, "hygiene:submodule:.gitmodules"},
		{Change{Path: "vendor/.gitmodules", NewMode: "100644", Added: 3}, ""}, // only the top one declares submodules
		{Change{Path: "sub", OldMode: "100644", NewMode: "100644", Added: 1}, ""},
	}
	for _, c := range cases {
		if got, _ := one(Rules{}, c.ch); got != c.want {
			t.Errorf("%+v: %q, want %q", c.ch, got, c.want)
		}
	}
	res := Check(Rules{}, Input{Files: []Change{cases[0].ch}})
	if want := "`sub` adds a submodule (a gitlink, mode 160000); agents never add, change or remove submodules: take it out (`git rm --cached sub`)"; res.Findings[0].Text() != want {
		t.Errorf("text\n got %s\nwant %s", res.Findings[0].Text(), want)
	}
}

func TestModes(t *testing.T) {
	cases := []struct {
		ch   Change
		want string
	}{
		{Change{Path: "x.txt", OldMode: "100644", NewMode: "100755"}, "hygiene:mode:x.txt"},
		{Change{Path: "run.sh", OldMode: "100755", NewMode: "100644"}, "hygiene:mode:run.sh"},
		{Change{Path: "new.sh", NewMode: "100755", Added: 1}, "hygiene:mode:new.sh"},
		{Change{Path: "kept.sh", OldMode: "100755", NewMode: "100755", Added: 1}, ""},
		{Change{Path: "new.txt", NewMode: "100644", Added: 1}, ""},
		{Change{Path: "gone.sh", OldMode: "100755", Deleted: 1}, ""},
		{Change{Path: "l", NewMode: "120000", Link: "x"}, ""}, // a link is not an executable file
	}
	for _, c := range cases {
		got, notes := one(Rules{}, c.ch)
		if got != c.want || notes != "" {
			t.Errorf("refuse, %+v: findings %q notes %q, want findings %q", c.ch, got, notes, c.want)
		}
		got, notes = one(Rules{Modes: ModesReport}, c.ch)
		if got != "" || notes != c.want {
			t.Errorf("report, %+v: findings %q notes %q, want notes %q", c.ch, got, notes, c.want)
		}
	}
	res := Check(Rules{}, Input{Files: []Change{cases[0].ch, cases[2].ch}})
	for i, want := range []string{
		"`new.sh` is a new executable file (mode 100755); make it a plain file (`chmod -x new.sh`): this workflow refuses mode changes (hygiene.modes)",
		"`x.txt` changes mode 100644 → 100755 (executable); restore its mode (`chmod -x x.txt`): this workflow refuses mode changes (hygiene.modes)",
	} {
		if got := res.Findings[i].Text(); got != want {
			t.Errorf("text\n got %s\nwant %s", got, want)
		}
	}
	if res := Check(Rules{Modes: ModesReport}, Input{Files: []Change{cases[0].ch}}); res.Notes[0].Text() != "`x.txt` changes mode 100644 → 100755 (executable)" {
		t.Errorf("note %q", res.Notes[0].Text())
	}
}

func TestSizes(t *testing.T) {
	r := Rules{MaxDiffLines: 100, MaxDiffBytes: 5_000_000, MaxFileBytes: 1_000_000, MaxFiles: 500}
	empty := make([]Change, 10_000)
	for i := range empty {
		empty[i] = Change{Path: fmt.Sprintf("e/%05d", i), NewMode: "100644"}
	}
	cases := []struct {
		name string
		in   Input
		want string
	}{
		{"one line of 20 MB", Input{Files: []Change{{Path: "big.txt", Added: 1, Bytes: 20_000_001, LongestLine: 20_000_000}}},
			"hygiene:bytes: hygiene:bytes:big.txt"},
		{"ten thousand empty files", Input{Files: empty}, "hygiene:files:"},
		{"many lines", Input{Files: []Change{{Path: "a.go", Added: 60, Deleted: 41, Bytes: 600}}}, "hygiene:size:"},
		{"several files under the file limit, over the total", Input{Files: []Change{
			{Path: "a", Bytes: 900_000}, {Path: "b", Bytes: 900_000}, {Path: "c", Bytes: 900_000}, {Path: "d", Bytes: 900_000},
			{Path: "e", Bytes: 900_000}, {Path: "f", Bytes: 900_000}}}, "hygiene:bytes:"},
		{"unread", Input{Unread: "its diff is over 64 MB"}, "hygiene:bytes:"},
		{"at the limits", Input{Files: []Change{{Path: "a", Added: 50, Deleted: 50, Bytes: 1_000_000}}}, ""},
	}
	for _, c := range cases {
		if got := keys(Check(r, c.in).Findings); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	got := Check(r, cases[0].in).Findings
	for i, want := range []string{
		"the change adds 20.0 MB, over the limit of 5.0 MB; make the change smaller: leave generated, vendored and data files out of it",
		"`big.txt` adds 20.0 MB (one line of 20.0 MB), over the limit of 1.0 MB for one file; make the change smaller: leave generated, vendored and data files out of it",
	} {
		if got[i].Text() != want {
			t.Errorf("text\n got %s\nwant %s", got[i].Text(), want)
		}
	}
	if got := Check(r, cases[1].in).Findings[0].Reason; got != "the change touches 10000 files, over the limit of 500" {
		t.Errorf("files reason %q", got)
	}
	if got := Check(Rules{MaxDiffBytes: 1_000_000}, Input{Files: []Change{{Path: "a", Bytes: 1_000_001}}}).Findings[0].Reason; got != "the change adds 1000001 bytes, over the limit of 1000000 bytes" {
		t.Errorf("close sizes are told apart: %q", got)
	}
}

func TestCommits(t *testing.T) {
	bot := Person{"agentorg", "agentorg@agentorg.invalid"}
	other := Person{"Mallory", "m@example.com"}
	key := "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
	token := "ghp_" + strings.Repeat("a1B2", 9)
	const sha = "0123456789abcdef0123456789abcdef01234567"
	cases := []struct {
		name string
		c    Commit
		want string
	}{
		{"agentorg's own", Commit{SHA: sha, Author: bot, Committer: bot, Message: "#1: Feature (attempt 1)\n"}, ""},
		{"a private key in the message", Commit{SHA: sha, Author: bot, Committer: bot, Message: "add key\n\n" + key}, "hygiene:message:0123456789ab"},
		{"a token in the message", Commit{SHA: sha, Author: bot, Committer: bot, Message: "token " + token}, "hygiene:message:0123456789ab"},
		{"a token as the author's name", Commit{SHA: sha, Author: Person{token, bot.Email}, Committer: bot, Message: "x"},
			"hygiene:identity:0123456789ab hygiene:message:0123456789ab"},
		{"another author", Commit{SHA: sha, Author: other, Committer: bot, Message: "x"}, "hygiene:identity:0123456789ab"},
		{"another committer", Commit{SHA: sha, Author: bot, Committer: other, Message: "x"}, "hygiene:identity:0123456789ab"},
		{"the bot's name with another address", Commit{SHA: sha, Author: Person{bot.Name, "me@example.com"}, Committer: bot}, "hygiene:identity:0123456789ab"},
		{"both, the way an agent commits", Commit{SHA: sha, Author: other, Committer: other, Message: "wip\n\n" + key}, "hygiene:identity:0123456789ab hygiene:message:0123456789ab"},
	}
	for _, c := range cases {
		res := Check(Rules{Identity: bot}, Input{Commits: []Commit{c.c}})
		if got := keys(res.Findings); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
		noLeak(t, res.Findings, token)
		noLeak(t, res.Findings, "b3BlbnNzaC1rZXktdjEAAAAA")
	}
	if got := keys(Check(Rules{}, Input{Commits: []Commit{{SHA: sha, Author: other, Committer: other}}}).Findings); got != "" {
		t.Errorf("no identity to check: %q", got)
	}
	res := Check(Rules{Identity: bot}, Input{Commits: []Commit{cases[7].c}})
	for i, want := range []string{
		"commit 0123456789 was made by `Mallory <m@example.com>`, not by agentorg (`agentorg <agentorg@agentorg.invalid>`); " + ownCommits,
		"the message of commit 0123456789 looks like it holds a private key; " + ownCommits,
	} {
		if got := res.Findings[i].Text(); got != want {
			t.Errorf("text\n got %s\nwant %s", got, want)
		}
	}
}

func TestFindingsOfAKindAreCapped(t *testing.T) {
	var files []Change
	for i := range 30 {
		files = append(files, Change{Path: fmt.Sprintf("run%02d.sh", i), NewMode: "100755"})
	}
	fs := Check(Rules{}, Input{Files: files}).Findings
	if len(fs) != maxPerKind+1 || fs[maxPerKind].Key() != "hygiene:mode:(10 more)" || fs[0].Path != "run00.sh" {
		t.Fatalf("%d findings, last %+v", len(fs), fs[len(fs)-1])
	}
	if fs[maxPerKind].Text() != "10 more like the 20 above" {
		t.Errorf("summary %q", fs[maxPerKind].Text())
	}
}

func BenchmarkCheckTenThousandFiles(b *testing.B) {
	r := Rules{Deny: []string{".agentorg/**", "*.pem", "*.key", ".env", ".github/**", ".gitlab-ci.yml"}, MaxFiles: 500}
	files := make([]Change, 10_000)
	for i := range files {
		files[i] = Change{Path: fmt.Sprintf("d%d/f%05d.txt", i%50, i), NewMode: "100644", Added: 1, Bytes: 10}
	}
	for b.Loop() {
		Check(r, Input{Files: files})
	}
}

func TestPathFindingsSayHowToUndo(t *testing.T) {
	r := Rules{Deny: []string{".github/**"}}
	for _, c := range []struct {
		ch   Change
		want string
	}{
		{Change{Path: ".github/x.yml", NewMode: "100644"}, "`.github/x.yml` matches the denied path `.github/**`; do not add it"},
		{Change{Path: ".github/x.yml", OldMode: "100644"}, "`.github/x.yml` matches the denied path `.github/**`; do not delete it"},
		{Change{Path: ".github/x.yml", OldMode: "100644", NewMode: "100644"}, "`.github/x.yml` matches the denied path `.github/**`; leave it as it is on the target branch"},
	} {
		if got := Check(r, Input{Files: []Change{c.ch}}).Findings[0].Text(); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}
