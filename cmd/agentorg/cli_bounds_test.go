package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// What a person types wrong gets a clear error and a non-zero exit; what an
// agent wrote cannot drive the terminal.
func TestCLIRefusesBadInputPlainly(t *testing.T) {
	home := copyHome(t)
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"issue", "frob"}, `unknown command "frob" for "agentorg issue"`},
		{[]string{"mr", "frob", "1"}, `unknown command "frob" for "agentorg mr"`},
		{[]string{"approve", "-5"}, "-5 is not an issue or merge request number"},
		{[]string{"serve", "--poll", "1ns"}, "--poll 1ns is out of bounds"},
		{[]string{"serve", "--poll", "-1s"}, "--poll -1s is out of bounds"},
		{[]string{"events", "--issue", "-3"}, "--issue -3 is not an issue number"},
		{[]string{"bench", "-n", "0"}, "-n 0 is out of bounds"},
		{[]string{"bench", "--overlap", "--pairs", "11"}, "--pairs 11: 11 pairs do not fit in 20 issues"},
		{[]string{"bench", "--overlap", "--predict", "maybe"}, `--predict "maybe": want off, on or both`},
		{[]string{"bench", "-n", "1", "--pairs", "2"}, "--pairs and --predict go with --overlap"},
		{[]string{"issue", "new", "--title", "x", "--body-file", "/dev/zero", "--as", "alice"}, "over the limit of 262144 bytes"},
	} {
		r := run(t, dir, nil, append([]string{"--home", home}, c.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, want non-zero and %q\n%s%s", c.args, r.code, c.want, r.stdout, r.stderr)
		}
	}
	// A group alone still shows its help.
	if r := run(t, dir, nil, "issue"); r.code != 0 || !strings.Contains(r.stdout, "Available Commands") {
		t.Errorf("agentorg issue: exit %d\n%s", r.code, r.stdout)
	}

	// bob, enrolled but no approver, is told why once.
	if r := run(t, dir, nil, "--home", home, "user", "add", "bob", "--as", "alice"); r.code != 0 {
		t.Fatalf("user add bob: %s", r.stderr)
	}
	if r := run(t, dir, nil, "--home", home, "label", "add", "3", "plan:review", "--as", "alice"); r.code != 0 {
		t.Fatalf("label add: %s", r.stderr)
	}
	r := run(t, dir, nil, "--home", home, "approve", "3", "--as", "bob")
	if r.code == 0 || strings.Count(r.stderr, "(allowed: alice)") != 1 {
		t.Errorf("bob's refusal should name the allowed approvers once:\n%s", r.stderr)
	}

	// A title with a terminal escape prints as text, not as a command;
	// JSON keeps it exact (escaped).
	title := "\x1b[2J\x1b[HGO, all checks passed"
	body := filepath.Join(dir, "body.md")
	os.WriteFile(body, []byte("\x1b]0;owned\x07body\n"), 0o644)
	if r := run(t, dir, nil, "--home", home, "issue", "new", "--title", title, "--body-file", body, "--as", "alice"); r.code != 0 {
		t.Fatalf("issue new: %s", r.stderr)
	}
	for _, args := range [][]string{{"issue", "list"}, {"events", "--wide"}, {"issue", "show", "6"}, {"status"}} {
		r := run(t, dir, nil, append([]string{"--home", home}, args...)...)
		if strings.ContainsRune(r.stdout, '\x1b') || strings.ContainsRune(r.stdout, '\x07') {
			t.Errorf("%v printed a raw escape:\n%q", args, r.stdout)
		}
		if args[0] == "issue" && !strings.Contains(r.stdout, "^[[2J^[[HGO, all checks passed") {
			t.Errorf("%v does not show the title's escape as text:\n%s", args, r.stdout)
		}
	}
	if r := run(t, dir, nil, "--home", home, "issue", "show", "6", "--json"); !strings.Contains(r.stdout, `\u001b[2J`) {
		t.Errorf("issue show --json lost the title's escape:\n%s", r.stdout)
	}
}
