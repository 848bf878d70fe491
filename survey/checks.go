package survey

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Check is a validation command found in the repository.
type Check struct {
	Name string // its name in the workflow
	Run  string
	From string // what in the repository says so
}

// Checks works out how the repository in dir is tested, from the files it
// holds. A Makefile's test target wins alone: it usually runs the others,
// and running both would test twice. Otherwise each ecosystem found gives
// one check, so that a change to any part of the repository is tested.
// notes say what was passed over and why; with no check found they list
// what was looked for.
func Checks(dir string) (checks []Check, notes []string) {
	has := func(name string) bool {
		fi, err := os.Stat(filepath.Join(dir, name))
		return err == nil && !fi.IsDir()
	}
	var found []Check
	if has("go.mod") {
		if hasGoTest(dir) {
			found = append(found, Check{Name: "go", Run: "go vet ./... && go test ./...", From: "go.mod"})
		} else {
			// go test would run no test, which does not pass (docs/lifecycle.md
			// I13): every change would meet a red target.
			found = append(found, Check{Name: "go", Run: "go vet ./... && go build ./...", From: "go.mod"})
			notes = append(notes, "the Go module has no _test.go file yet, so its check vets and builds (a go test that runs no test does not pass): add go test ./... once there are tests")
		}
	}
	if c, note := nodeCheck(dir, has); note != "" {
		notes = append(notes, note)
	} else if c.Run != "" {
		found = append(found, c)
	}
	if has("Cargo.toml") {
		found = append(found, Check{Name: "cargo", Run: "cargo test", From: "Cargo.toml"})
	}
	for _, f := range []string{"pyproject.toml", "setup.py", "pytest.ini"} {
		if has(f) {
			found = append(found, Check{Name: "pytest", Run: "python -m pytest", From: f})
			break
		}
	}
	mk, hasTest := makefile(dir, has)
	switch {
	case hasTest:
		from := mk + "'s test target"
		if len(found) > 0 {
			from += ", which usually runs the rest; also found " + froms(found)
		}
		return []Check{{Name: "test", Run: "make test", From: from}}, notes
	case mk != "":
		notes = append(notes, mk+" has no test target")
	}
	if len(found) == 1 {
		found[0].Name = "test"
	}
	if len(found) == 0 {
		notes = append(notes, "looked for go.mod, package.json with a test script, Cargo.toml, pyproject.toml, setup.py, pytest.ini and a Makefile test target")
	}
	return found, notes
}

// hasGoTest says whether the module in dir has a _test.go file that go
// test would see (not under testdata, vendor, or a directory whose name
// starts with . or _).
func hasGoTest(dir string) bool {
	found := false
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || found {
			return filepath.SkipDir
		}
		name := d.Name()
		if d.IsDir() {
			if p != dir && (name == "testdata" || name == "vendor" || name == "node_modules" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, "_test.go") && !strings.HasPrefix(name, ".") && !strings.HasPrefix(name, "_") {
			found = true
			return filepath.SkipAll
		}
		return nil
	})
	return found
}

// npmPlaceholder is the test script `npm init` writes: it always fails.
const npmPlaceholder = `echo "Error: no test specified" && exit 1`

// nodeCheck reads package.json: a check when it has a real test script, run
// with the package manager its lockfile names; else a note why not ("" when
// there is no package.json).
func nodeCheck(dir string, has func(string) bool) (Check, string) {
	if !has("package.json") {
		return Check{}, ""
	}
	data, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return Check{}, fmt.Sprintf("package.json: %v", err)
	}
	var pkg struct {
		Scripts         map[string]string `json:"scripts"`
		Dependencies    map[string]any    `json:"dependencies"`
		DevDependencies map[string]any    `json:"devDependencies"`
	}
	if err := json.Unmarshal(data, &pkg); err != nil {
		return Check{}, fmt.Sprintf("package.json does not parse: %v", err)
	}
	switch test := strings.TrimSpace(pkg.Scripts["test"]); test {
	case "":
		return Check{}, "package.json has no test script"
	case npmPlaceholder:
		return Check{}, "package.json's test script is npm init's placeholder, which always fails"
	}
	// Checks run in a clean checkout, without node_modules: a package with
	// dependencies installs them first, as its lockfile says.
	tool, from, install := "npm", "package.json's test script", "npm install"
	switch {
	case has("pnpm-lock.yaml"):
		tool, from, install = "pnpm", from+", pnpm-lock.yaml", "pnpm install --frozen-lockfile"
	case has("yarn.lock"):
		tool, from, install = "yarn", from+", yarn.lock", "yarn install --frozen-lockfile"
	case has("package-lock.json"):
		from, install = from+", package-lock.json", "npm ci"
	case has("npm-shrinkwrap.json"):
		from, install = from+", npm-shrinkwrap.json", "npm ci"
	}
	run := tool + " test"
	if len(pkg.Dependencies)+len(pkg.DevDependencies) > 0 {
		run = install + " && " + run
	}
	return Check{Name: tool, Run: run, From: from}, ""
}

// makefile returns the makefile make would read in dir ("" for none) and
// whether it has a test target.
func makefile(dir string, has func(string) bool) (name string, hasTest bool) {
	for _, n := range []string{"GNUmakefile", "makefile", "Makefile"} {
		if has(n) {
			name = n
			break
		}
	}
	if name == "" {
		return "", false
	}
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return name, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if definesTarget(line, "test") {
			return name, true
		}
	}
	return name, false
}

// definesTarget reports whether a makefile line is a rule for target:
// "test:", "test: build", "check test::". Recipes (tab-indented),
// comments and variable assignments ("X := a", "X = a:b") are not rules.
func definesTarget(line, target string) bool {
	if line == "" || line[0] == '\t' || line[0] == '#' {
		return false
	}
	targets, rest, ok := strings.Cut(line, ":")
	if !ok || strings.Contains(targets, "=") || strings.HasPrefix(rest, "=") || strings.HasPrefix(rest, ":=") {
		return false
	}
	for _, t := range strings.Fields(targets) {
		if t == target {
			return true
		}
	}
	return false
}

// froms lists where checks came from: "go.mod, package.json's test script".
func froms(cs []Check) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.From)
	}
	return strings.Join(out, ", ")
}
