package survey

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestChecks(t *testing.T) {
	const (
		goRun       = "go vet ./... && go test ./..."
		withTest    = `{"name": "x", "scripts": {"test": "vitest run"}}`
		withDeps    = `{"name": "x", "scripts": {"test": "vitest run"}, "devDependencies": {"vitest": "^3.0.0"}}`
		noTest      = `{"name": "x", "scripts": {"build": "tsc"}}`
		placeholder = `{"scripts": {"test": "echo \"Error: no test specified\" && exit 1"}}`
		makeTest    = "build:\n\tgo build ./...\n\ntest: build\n\tgo test ./...\n"
		makeNoTest  = ".PHONY: test\nbuild:\n\tgo build ./...\n# test: not a rule\nTEST_FLAGS := -race\n"
	)
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []Check
		notes []string // each must appear in some note
	}{
		{name: "go", files: map[string]string{"go.mod": "module x\n", "x_test.go": ""},
			want: []Check{{"test", goRun, "go.mod"}}},
		{name: "go, a test in a package below", files: map[string]string{"go.mod": "module x\n", "pkg/calc/calc_test.go": ""},
			want: []Check{{"test", goRun, "go.mod"}}},
		{name: "go without a test: go test would run none", files: map[string]string{"go.mod": "module x\n", "x.go": "",
			"testdata/a_test.go": "", "vendor/v/v_test.go": "", ".hidden/h_test.go": "", "_old/o_test.go": ""},
			want:  []Check{{"test", "go vet ./... && go build ./...", "go.mod"}},
			notes: []string{"the Go module has no _test.go file yet, so its check vets and builds"}},
		{name: "npm", files: map[string]string{"package.json": withTest},
			want: []Check{{"test", "npm test", "package.json's test script"}}},
		{name: "pnpm", files: map[string]string{"package.json": withTest, "pnpm-lock.yaml": ""},
			want: []Check{{"test", "pnpm test", "package.json's test script, pnpm-lock.yaml"}}},
		{name: "yarn", files: map[string]string{"package.json": withTest, "yarn.lock": ""},
			want: []Check{{"test", "yarn test", "package.json's test script, yarn.lock"}}},
		// A clean checkout has no node_modules: dependencies are installed
		// first, as the lockfile says.
		{name: "npm with dependencies and a lockfile", files: map[string]string{"package.json": withDeps, "package-lock.json": "{}"},
			want: []Check{{"test", "npm ci && npm test", "package.json's test script, package-lock.json"}}},
		{name: "npm with dependencies, no lockfile", files: map[string]string{"package.json": withDeps},
			want: []Check{{"test", "npm install && npm test", "package.json's test script"}}},
		{name: "pnpm with dependencies", files: map[string]string{"package.json": withDeps, "pnpm-lock.yaml": ""},
			want: []Check{{"test", "pnpm install --frozen-lockfile && pnpm test", "package.json's test script, pnpm-lock.yaml"}}},
		{name: "yarn with dependencies", files: map[string]string{"package.json": withDeps, "yarn.lock": ""},
			want: []Check{{"test", "yarn install --frozen-lockfile && yarn test", "package.json's test script, yarn.lock"}}},
		{name: "package.json without a test script", files: map[string]string{"package.json": noTest},
			notes: []string{"package.json has no test script", "looked for go.mod, package.json with a test script"}},
		{name: "npm init's placeholder", files: map[string]string{"package.json": placeholder},
			notes: []string{"npm init's placeholder"}},
		{name: "package.json that does not parse", files: map[string]string{"package.json": "{"},
			notes: []string{"package.json does not parse"}},
		{name: "cargo", files: map[string]string{"Cargo.toml": "[package]\n"},
			want: []Check{{"test", "cargo test", "Cargo.toml"}}},
		{name: "pyproject", files: map[string]string{"pyproject.toml": ""},
			want: []Check{{"test", "python -m pytest", "pyproject.toml"}}},
		{name: "setup.py", files: map[string]string{"setup.py": ""},
			want: []Check{{"test", "python -m pytest", "setup.py"}}},
		{name: "pytest.ini", files: map[string]string{"pytest.ini": ""},
			want: []Check{{"test", "python -m pytest", "pytest.ini"}}},
		{name: "Makefile with a test target wins over go.mod", files: map[string]string{"go.mod": "", "x_test.go": "", "Makefile": makeTest},
			want: []Check{{"test", "make test", "Makefile's test target, which usually runs the rest; also found go.mod"}}},
		{name: "GNUmakefile is what make reads first", files: map[string]string{"GNUmakefile": makeTest, "Makefile": makeNoTest},
			want: []Check{{"test", "make test", "GNUmakefile's test target"}}},
		{name: "Makefile without a test target", files: map[string]string{"go.mod": "", "x_test.go": "", "Makefile": makeNoTest},
			want: []Check{{"test", goRun, "go.mod"}}, notes: []string{"Makefile has no test target"}},
		{name: "Makefile without a test target alone", files: map[string]string{"Makefile": makeNoTest},
			notes: []string{"Makefile has no test target", "looked for"}},
		{name: "several ecosystems: one check each", files: map[string]string{"go.mod": "", "x_test.go": "", "package.json": withTest, "Cargo.toml": ""},
			want: []Check{{"go", goRun, "go.mod"}, {"npm", "npm test", "package.json's test script"}, {"cargo", "cargo test", "Cargo.toml"}}},
		{name: "nothing", files: map[string]string{"README.md": "hi\n"},
			notes: []string{"looked for go.mod, package.json with a test script, Cargo.toml, pyproject.toml, setup.py, pytest.ini and a Makefile test target"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, text := range tc.files {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, notes := Checks(dir)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("checks = %+v\nwant     %+v", got, tc.want)
			}
			joined := strings.Join(notes, "\n")
			for _, n := range tc.notes {
				if !strings.Contains(joined, n) {
					t.Errorf("notes lack %q: %q", n, notes)
				}
			}
			if len(tc.notes) == 0 && len(notes) > 0 {
				t.Errorf("unexpected notes %q", notes)
			}
		})
	}
}

func TestDefinesTarget(t *testing.T) {
	for line, want := range map[string]bool{
		"test:":              true,
		"test: build lint":   true,
		"check test::":       true,
		"test ::":            true,
		"tests:":             false,
		"\ttest: recipe":     false,
		"# test:":            false,
		".PHONY: test":       false,
		"test := 1":          false,
		"test ::= 1":         false,
		"X = a:test":         false,
		"unit-test: x":       false,
		"":                   false,
		"test":               false,
		"all test coverage:": true,
	} {
		if got := definesTarget(line, "test"); got != want {
			t.Errorf("definesTarget(%q) = %v, want %v", line, got, want)
		}
	}
}
