package workflow

import (
	"reflect"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/hygiene"
)

// The default workflow writes out the defaults a workflow that leaves
// hygiene out gets, CI configuration denied among them.
func TestDefaultHygiene(t *testing.T) {
	opts := DefaultOptions{Approvers: []string{"a"}, Check: "c", E2E: "e", AgentCommand: []string{"x"}}
	w, err := Parse("wf.yaml", Default(opts), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := Hygiene{Deny: DefaultDeny, MaxDiffLines: DefaultMaxDiffLines, MaxDiffBytes: DefaultMaxDiffBytes, MaxFileBytes: DefaultMaxFileBytes,
		MaxFiles: DefaultMaxFiles, Symlinks: hygiene.SymlinksInside, Modes: hygiene.ModesRefuse}
	if !reflect.DeepEqual(w.Hygiene, want) {
		t.Errorf("default text's hygiene\n got %+v\nwant %+v", w.Hygiene, want)
	}
	for _, ci := range []string{".github/workflows/x.yml", ".gitlab-ci.yml", ".gitlab/ci/build.yml", ".circleci/config.yml", "Jenkinsfile",
		".buildkite/pipeline.yml", "azure-pipelines.yml", ".travis.yml", ".agentorg/workflow.yaml"} {
		if !hygiene.MatchAny(w.Hygiene.Deny, ci) {
			t.Errorf("%s is not denied by default", ci)
		}
	}
	for _, ok := range []string{"src/github.go", "docs/gitlab.md", "ci/notes.txt"} {
		if hygiene.MatchAny(w.Hygiene.Deny, ok) {
			t.Errorf("%s is denied by default", ok)
		}
	}
}

// A workflow that sets deny keeps exactly what it sets, even nothing.
func TestOwnDenyListIsKept(t *testing.T) {
	base := string(Default(DefaultOptions{Approvers: []string{"a"}, Check: "c", E2E: "e", AgentCommand: []string{"x"}}))
	i, j := strings.Index(base, "\nhygiene:\n"), strings.Index(base, "\n# Every label")
	for text, want := range map[string][]string{
		"hygiene:\n  deny: [\"*.pem\"]\n": {"*.pem"},
		"hygiene:\n  deny: []\n":          {},
		"hygiene:\n  deny:\n":             {},
		"hygiene:\n  max_files: 9\n":      DefaultDeny,
		"":                                DefaultDeny,
	} {
		w, err := Parse("wf.yaml", []byte(base[:i+1]+text+base[j:]), testEnv)
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if !reflect.DeepEqual(w.Hygiene.Deny, want) {
			t.Errorf("%q: deny %q, want %q", text, w.Hygiene.Deny, want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int{
		"5000000": 5_000_000, "5MB": 5_000_000, "5 mb": 5_000_000, "1.5MB": 1_500_000, "512KiB": 512 << 10,
		"1MiB": 1 << 20, "2GB": 2_000_000_000, "10b": 10, " 7 KB ": 7000,
	} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MB", "5 potatoes", "5M", "1e400", "NaN", "5MBs", "99999999999GB"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}
