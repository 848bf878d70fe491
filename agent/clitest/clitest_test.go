package clitest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRepoRootHoldsGoMod(t *testing.T) {
	root := RepoRoot()
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("RepoRoot() = %q: %v", root, err)
	}
}

func TestEnvIsBuiltFromScratch(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "must-not-leak")
	h := NewHome(t)
	env := h.Env("/opt/x/bin/codex", "EXTRA=1")
	joined := strings.Join(env, "\n")
	if strings.Contains(joined, "must-not-leak") {
		t.Fatal("the test's own environment leaked into the CLI's")
	}
	for _, want := range []string{"HOME=" + h.Dir, "CODEX_HOME=" + filepath.Join(h.Dir, ".codex"), "EXTRA=1", "PATH=/opt/x/bin:"} {
		if !strings.Contains(joined, want) {
			t.Errorf("env lacks %q:\n%s", want, joined)
		}
	}
	if fi, err := os.Stat(filepath.Join(h.Dir, ".codex")); err != nil || !fi.IsDir() {
		t.Fatalf("CODEX_HOME not created: %v", err)
	}
}

func TestPinsReadInstallCLIs(t *testing.T) {
	pins := Pins(t)
	for _, pkg := range []string{"@openai/codex", "@anthropic-ai/claude-code", "@google/gemini-cli", "opencode-ai"} {
		if v := pins[pkg]; v == "" || strings.ContainsAny(v, "@ ") {
			t.Errorf("pin of %s: %q in %v", pkg, v, pins)
		}
	}
}
