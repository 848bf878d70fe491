package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/proc"
)

// spec is an npm CLI tested at 1.18.33 that must list --format and --dir.
var spec = ProbeSpec{
	Binary:  "tool",
	Help:    []string{"run", "--help"},
	Flags:   []string{"--format", "--dir"},
	Lacks:   "tool %s lacks %s",
	Name:    "Tool",
	Package: "@example/tool",
	Tested:  "1.18.33",
}

func TestFixComparesTheVersionWithTheTestedOne(t *testing.T) {
	const npm = "npm install -g @example/tool@1.18.33"
	upgrade := "upgrade Tool to the version agentorg is tested with: " + npm
	for _, c := range []struct {
		reported string
		missing  []string
		want     string
	}{
		{"1.18.32", []string{"--dir"}, upgrade},
		{"1.9.99", []string{"--dir"}, upgrade}, // numbers, not text: 9 < 18
		{"0.169.0", nil, upgrade},
		{"tool 1.18", []string{"--dir"}, upgrade}, // 1.18 is 1.18.0
		{"1.18.34", []string{"--format", "--dir"},
			"Tool 1.18.34 is newer than the version agentorg is tested with (1.18.33) and no longer lists --format, --dir: install the tested one: " + npm},
		{"1.100.0 (Tool)", []string{"--dir"},
			"Tool 1.100.0 is newer than the version agentorg is tested with (1.18.33) and no longer lists --dir: install the tested one: " + npm},
		{"tool-cli 2.0.0", nil,
			"Tool 2.0.0 is newer than the version agentorg is tested with (1.18.33): install the tested one: " + npm},
		{"v1.18.33", []string{"--dir"}, "Tool 1.18.33 is the version agentorg is tested with: reinstall it: " + npm},
		{"1.18.33.0", nil, "Tool 1.18.33.0 is the version agentorg is tested with: reinstall it: " + npm},
		// What cannot be read is taken for older.
		{"", []string{"--dir"}, upgrade},
		{"tool (dev build)", []string{"--dir"}, upgrade},
		{"tool 7", []string{"--dir"}, upgrade},
		{"build 99999999999999999999.1", []string{"--dir"}, upgrade},
	} {
		if got := spec.fix(c.reported, c.missing); got != c.want {
			t.Errorf("fix(%q, %q):\n got %q\nwant %q", c.reported, c.missing, got, c.want)
		}
	}
	// Without a package the adapter's own texts stand.
	own := ProbeSpec{Install: "install it with pip", Upgrade: "tool --upgrade"}
	if got := own.fix("99.0.0", []string{"--dir"}); got != "tool --upgrade" {
		t.Errorf("fix without a package: %q", got)
	}
	if got := own.install(); got != "install it with pip" {
		t.Errorf("install without a package: %q", got)
	}
	if got := spec.install(); got != "install Tool: "+npm+" (or set the agent's binary to its path)" {
		t.Errorf("install: %q", got)
	}
}

// fakeTool writes a CLI script printing version and help, and an
// environment whose PATH finds it.
func fakeTool(t *testing.T, version, help string) []string {
	t.Helper()
	dir := t.TempDir()
	script := "#!/bin/sh\ncase \"$1\" in\n--version) echo '" + version + "';;\nrun) " + help + ";;\nesac\n"
	if err := os.WriteFile(filepath.Join(dir, "tool"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return append(proc.BaseEnv(), "PATH="+dir+":/usr/bin:/bin")
}

// A CLI newer than the tested one that dropped a flag is told so, not
// offered its "upgrade" to an older version.
func TestProbeOfANewerCLI(t *testing.T) {
	env := fakeTool(t, "tool-cli 1.19.0", "echo '--format <json>'")
	pr := Probe(context.Background(), env, spec)
	if pr.Version != "tool-cli 1.19.0" || pr.Problem != "tool tool-cli 1.19.0 lacks --dir" ||
		pr.Fix != "Tool 1.19.0 is newer than the version agentorg is tested with (1.18.33) and no longer lists --dir: install the tested one: npm install -g @example/tool@1.18.33" {
		t.Errorf("probe %+v", pr)
	}
	env = fakeTool(t, "tool-cli 1.2.0", "echo '--format <json>'")
	if pr := Probe(context.Background(), env, spec); pr.Fix != "upgrade Tool to the version agentorg is tested with: npm install -g @example/tool@1.18.33" {
		t.Errorf("older: %+v", pr)
	}
	env = fakeTool(t, "1.18.33", "echo '--format <json> --dir <path>'")
	if pr := Probe(context.Background(), env, spec); pr.Problem != "" || pr.Fix != "" {
		t.Errorf("tested: %+v", pr)
	}
}

// A help that fails with several lines on stderr is one line of Problem.
func TestProbeProblemIsOneLine(t *testing.T) {
	env := fakeTool(t, "2.0.0", `printf 'Error: cannot load\n\n  at main.js:1\r\n  at node:internal 7\n' >&2; exit 1`)
	pr := Probe(context.Background(), env, spec)
	if strings.ContainsAny(pr.Problem, "\r\n") || !strings.HasSuffix(pr.Problem, "run --help: exit status 1: Error: cannot load / at main.js:1 / at node:internal 7") {
		t.Errorf("problem %q", pr.Problem)
	}
	if pr.Fix != "Tool 2.0.0 is newer than the version agentorg is tested with (1.18.33): install the tested one: npm install -g @example/tool@1.18.33" {
		t.Errorf("fix %q", pr.Fix)
	}
}
