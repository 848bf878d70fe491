package agentorg_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/agentorg/agentorg"

// listed is what the test reads of `go list -deps -json`.
type listed struct {
	ImportPath string
	Standard   bool
	Imports    []string
	Deps       []string
}

// TestImportDirection keeps the imports pointing inward (DESIGN, "imports
// point inward"; rule 11). It reads the packages' own imports (not their
// tests': a test may build a whole organization) and fails when:
//
//   - an adapter (tracker/..., agent/...) depends on the engine or a role:
//     adapters serve the engine, never the other way round;
//   - the record (eventlog) or human's desk depends on role policy (role,
//     triage) or the engine: they keep what happened and what people do,
//     and ask package gate, not role, who may approve;
//   - a library imports the wiring (app, cmd/...). The wiring may: cmd/...,
//     and the packages that run a whole organization the way the command
//     does, so that it is the same one: demo (the demo's org), bench (the
//     benchmark's) and orgtest (the tests'). Each is wiring by purpose,
//     and none is imported by a library in turn (the test checks that too,
//     since they are then wiring themselves);
//   - metrics depends on the engine, a role, an adapter, the dashboard or
//     the wiring: it is a leaf they all report to;
//   - jobstore (the statements on River's tables) depends on the engine, a
//     role or an adapter: the engine calls it, never the other way round;
//   - dblock (the named locks) depends on any package of the module: the
//     roles take its locks and the wiring makes them, it knows neither;
//   - the root package imports anything but the standard library.
func TestImportDirection(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list the packages with")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-json", "./...").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]listed{}
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("reading go list's output: %v", err)
		}
		pkgs[p.ImportPath] = p
	}
	if len(pkgs) == 0 || pkgs[module].ImportPath == "" {
		t.Fatalf("go list named no package %s (%d packages)", module, len(pkgs))
	}
	for _, v := range importViolations(pkgs) {
		t.Error(v)
	}
}

// wiring are the packages that may import app: they run a whole
// organization (see TestImportDirection).
var wiring = []string{"cmd", "demo", "bench", "orgtest"}

// importViolations says, for each package of the module, which of its
// imports break a rule, naming the package, the import and the chain of
// imports that leads there.
func importViolations(pkgs map[string]listed) []string {
	var out []string
	for path, p := range pkgs {
		rel, ok := relative(path)
		if !ok {
			continue
		}
		deny := func(why string, forbidden ...string) {
			for _, d := range p.Deps {
				if dr, ok := relative(d); ok && under(dr, forbidden...) {
					out = append(out, "package "+path+" imports "+d+" ("+chain(pkgs, path, d)+"): "+why)
				}
			}
		}
		switch {
		case under(rel, "tracker", "agent"):
			deny("an adapter must not depend on the engine or a role", "engine", "role")
		case under(rel, "eventlog", "human"):
			deny("the record and the human desk must not depend on role policy or the engine (ask package gate)", "role", "triage", "engine")
		case under(rel, "metrics"):
			deny("metrics is a leaf: the engine, roles and adapters tell it what happened", "engine", "role", "tracker", "agent", "web", "app")
		case under(rel, "jobstore"):
			deny("the job store serves the engine: it must not depend on the engine, a role or an adapter", "engine", "role", "triage", "tracker", "agent")
		case under(rel, "dblock"):
			for _, d := range p.Deps {
				if _, ok := relative(d); ok {
					out = append(out, "package "+path+" imports "+d+" ("+chain(pkgs, path, d)+"): the named locks are a leaf: they must not depend on any package of agentorg's")
				}
			}
		}
		if !under(rel, wiring...) {
			for _, d := range p.Imports {
				if dr, ok := relative(d); ok && under(dr, append([]string{"app"}, wiring...)...) {
					out = append(out, "package "+path+" imports "+d+": a library must not import the wiring (app, cmd, or what runs a whole organization)")
				}
			}
		}
		if rel == "" {
			for _, d := range p.Imports {
				if !pkgs[d].Standard {
					out = append(out, "package "+path+" (the root package) imports "+d+": it must import only the standard library")
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// relative returns a package's path inside the module ("" for the root),
// and false for a package outside it.
func relative(path string) (string, bool) {
	if path == module {
		return "", true
	}
	rel, ok := strings.CutPrefix(path, module+"/")
	return rel, ok
}

// under reports whether the module-relative path rel is one of dirs or
// inside one.
func under(rel string, dirs ...string) bool {
	for _, d := range dirs {
		if rel == d || strings.HasPrefix(rel, d+"/") {
			return true
		}
	}
	return false
}

// chain returns one chain of imports from package from to package to, as
// "a -> b -> c", by a breadth-first walk over the direct imports.
func chain(pkgs map[string]listed, from, to string) string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == to {
			var path []string
			for ; p != ""; p = prev[p] {
				path = append([]string{p}, path...)
			}
			return strings.Join(path, " -> ")
		}
		for _, i := range pkgs[p].Imports {
			if _, seen := prev[i]; !seen {
				prev[i] = p
				queue = append(queue, i)
			}
		}
	}
	return from + " -> ... -> " + to
}
