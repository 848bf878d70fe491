package hygiene

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	cases := []struct {
		glob, path string
		want       bool
	}{
		{"*.pem", "a/b/key.pem", true},
		{"*.pem", "key.pem.txt", false},
		{"vendor/**", "vendor/x/y.go", true},
		{"vendor/**", "src/vendor/y.go", false},
		{"docs/**/*.md", "docs/a.md", true},
		{"docs/**/*.md", "docs/x/y/a.md", true},
		{"docs/*.md", "docs/x/a.md", false},
		{"**", "any/thing", true},
		{"cmd/?.go", "cmd/a.go", true},
		{"[ab].go", "b.go", true},
		{"[!ab].go", "b.go", false},
		{".github/**", ".github/workflows/ci.yml", true},
	}
	for _, c := range cases {
		if got := Match(c.glob, c.path); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.glob, c.path, got, c.want)
		}
	}
	if Valid("[abc") == nil || Valid("") == nil || Valid("src/**/*.go") != nil {
		t.Fatal("Valid")
	}
}

func TestSecretFormats(t *testing.T) {
	yes := map[string]string{
		"private key":       "-----BEGIN OPENSSH PRIVATE KEY-----",
		"rsa key":           "-----BEGIN RSA PRIVATE KEY-----",
		"aws":               `key := "AKIAIOSFODNN7EXAMPLE"`,
		"github":            "token=ghp_" + strings.Repeat("a1B2", 9),
		"github pat":        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
		"gitlab":            "GITLAB=glpat-abcdefghij0123456789",
		"slack":             "xoxb-1234567890-abcdefghij",
		"openai":            "OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz012345",
		"after a near miss": "xAKIAIOSFODNN7EXAMPLE AKIAIOSFODNN7EXAMPLE",
		"at the start":      "ghp_" + strings.Repeat("a1B2", 9),
	}
	for name, line := range yes {
		if _, ok := Secret(line); !ok {
			t.Errorf("%s: %q not flagged", name, line)
		}
	}
	for _, line := range []string{"func Sub(a, b int) int { return a - b }", "see sk-learn docs", "AKIA is a prefix", "ghp_short", "-----BEGIN PUBLIC KEY-----",
		"xAKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLEX", "mask-abcdefghijklmnopqrstuvwxyz012345", "_glpat-abcdefghij0123456789"} {
		if name, ok := Secret(line); ok {
			t.Errorf("%q flagged as %s", line, name)
		}
	}
}

func TestCheckEachRule(t *testing.T) {
	r := Rules{Allow: []string{"*.go", "docs/**"}, Deny: []string{"secrets/**", "*_gen.go"}, MaxDiffLines: 100}
	changes := []Change{
		{Path: "sub.go", Added: 10},
		{Path: "Makefile", Added: 1},          // outside allow
		{Path: "x_gen.go", Added: 1},          // denied
		{Path: "docs/logo.png", Binary: true}, // binary
		{Path: "docs/big.md", Added: 95},      // pushes the total over 100
	}
	added := []Added{
		{Commit: "abc", Path: "sub.go", Line: 3, Text: "// AKIAIOSFODNN7EXAMPLE"},
		{Commit: "abc", Path: "sub.go", Line: 4, Text: "// AKIAIOSFODNN7EXAMPLF"}, // one finding per file
	}
	res := Check(r, Input{Files: changes, Added: added})
	want := "hygiene:binary:docs/logo.png hygiene:path:Makefile hygiene:path:x_gen.go hygiene:secret:sub.go hygiene:size:"
	if got := keys(res.Findings); got != want {
		t.Fatalf("keys\n got %s\nwant %s", got, want)
	}
	noLeak(t, res.Findings, "AKIAIOSFODNN7EXAMPLE")
	if res := Check(Rules{}, Input{Files: []Change{{Path: "a.go", Added: 5000}}}); len(res.Findings)+len(res.Notes) != 0 {
		t.Fatalf("no rules, clean text: want no findings, got %+v", res)
	}
}

// keys lists findings' keys, space-separated.
func keys(fs []Finding) string {
	var ks []string
	for _, f := range fs {
		ks = append(ks, f.Key())
	}
	return strings.Join(ks, " ")
}

// noLeak fails when a finding's words carry secret.
func noLeak(t *testing.T, fs []Finding, secret string) {
	t.Helper()
	for _, f := range fs {
		if strings.Contains(f.Text(), secret) {
			t.Errorf("finding leaks the secret: %s", f.Text())
		}
	}
}

// Scanning is linear and quick on a line of many megabytes, even one made
// of near misses.
func BenchmarkSecretLongLines(b *testing.B) {
	for name, line := range map[string]string{
		"plain":       strings.Repeat("x", 20<<20),
		"near misses": strings.Repeat("xoxAKIAsk-ghp_-----BEGIN ", 1<<20),
		"gh":          strings.Repeat("gh", 10<<20),
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, ok := Secret(line); ok {
					b.Fatal("flagged")
				}
			}
		})
	}
}

// A conflict marker a merge left is a finding in any text file (here a
// README no check reads), once per file, from what the tree holds; a
// Markdown underline of seven = is not one, nor a marker a later commit
// removed.
func TestConflictMarkers(t *testing.T) {
	net := []Added{
		{Path: "README.md", Line: 1, Text: "<<<<<<< HEAD"},
		{Path: "README.md", Line: 2, Text: "# calc"},
		{Path: "README.md", Line: 3, Text: "======="},
		{Path: "README.md", Line: 4, Text: "# Calc, the calculator"},
		{Path: "README.md", Line: 5, Text: ">>>>>>> agentorg/issue-3"},
		{Path: "doc.md", Line: 2, Text: "======="},
		{Path: "code.go", Line: 9, Text: "	s := \"<<<<<<< not at the start\""},
		{Path: "code.go", Line: 10, Text: "<<<<<<<<< eight is not git's"},
	}
	res := Check(Rules{}, Input{Net: net, Added: []Added{{Path: "old.txt", Line: 1, Text: "<<<<<<< HEAD"}}})
	var keys []string
	for _, f := range res.Findings {
		keys = append(keys, f.Key())
	}
	if got := strings.Join(keys, " "); got != "hygiene:conflict-marker:README.md" {
		t.Fatalf("findings %s", got)
	}
	if !strings.Contains(res.Findings[0].Text(), "`README.md` line 1 holds a conflict marker") {
		t.Fatalf("text %q", res.Findings[0].Text())
	}
}
