package check

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg/proc"
)

// scanCase is a command's real output and what testScan makes of it: ""
// when the command is judged by its exit status alone.
type scanCase struct {
	name, out, want string
}

// ranNoTests feeds out to a testScan in small pieces, as a process writes.
func ranNoTests(out string) string {
	s := newTestScan()
	for len(out) > 0 {
		n := min(len(out), 7)
		s.Write([]byte(out[:n]))
		out = out[n:]
	}
	return s.ranNoTests()
}

func runScanCases(t *testing.T, cases []scanCase) {
	t.Helper()
	for _, c := range cases {
		if got := ranNoTests(c.out); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

// Outputs of go 1.26 `go test`, captured in a module example.com/x with
// packages pkg/flags (TestUnique), ok (TestOK), pkg/none and cmd/tool
// (no test files).
func TestScanGoTest(t *testing.T) {
	const flagsNone = "go test ran no test in example.com/x/pkg/flags ([no tests to run])"
	runScanCases(t, []scanCase{
		{"-run names a missing test", "ok  \texample.com/x/pkg/flags\t0.005s [no tests to run]\n", flagsNone},
		{"cached", "ok  \texample.com/x/pkg/flags\t(cached) [no tests to run]\n", flagsNone},
		{"-v", "testing: warning: no tests to run\nPASS\nok  \texample.com/x/pkg/flags\t0.003s [no tests to run]\n", flagsNone},
		{"in the package's directory", "testing: warning: no tests to run\nPASS\nok  \texample.com/x/pkg/flags\t0.003s\n", flagsNone},
		{"-cover", "ok  \texample.com/x/pkg/flags\t0.005s\tcoverage: 0.0% of statements [no tests to run]\n", flagsNone},
		{"no test files", "?   \texample.com/x/pkg/none\t[no test files]\n?   \texample.com/x/cmd/tool\t[no test files]\n",
			"go test ran no test in example.com/x/pkg/none ([no test files]), example.com/x/cmd/tool ([no test files])"},
		{"-run over ./...",
			"?   \texample.com/x/cmd/tool\t[no test files]\nok  \texample.com/x/ok\t0.004s [no tests to run]\nok  \texample.com/x/pkg/flags\t(cached) [no tests to run]\n?   \texample.com/x/pkg/none\t[no test files]\n",
			"go test ran no test in 4 packages: example.com/x/cmd/tool ([no test files]), example.com/x/ok ([no tests to run]), example.com/x/pkg/flags ([no tests to run]) and 1 more"},
		{"-v -run over ./...",
			"?   \texample.com/x/cmd/tool\t[no test files]\ntesting: warning: no tests to run\nPASS\nok  \texample.com/x/ok\t0.005s [no tests to run]\ntesting: warning: no tests to run\nPASS\nok  \texample.com/x/pkg/flags\t0.003s [no tests to run]\n?   \texample.com/x/pkg/none\t[no test files]\n",
			"go test ran no test in 4 packages: example.com/x/cmd/tool ([no test files]), example.com/x/ok ([no tests to run]), example.com/x/pkg/flags ([no tests to run]) and 1 more"},
		{"-cover, packages without tests",
			"\texample.com/x/pkg/stm\t\tcoverage: 0.0% of statements\n?   \texample.com/x/pkg/none\t[no test files]\n",
			"go test ran no test in example.com/x/pkg/stm ([no test files]), example.com/x/pkg/none ([no test files])"},
		{"a test binary run by hand", "testing: warning: no tests to run\nPASS\n", "go test ran no test (testing: warning: no tests to run)"},
		{"a package named ok without tests", "?   \tok\t[no test files]\n", "go test ran no test in ok ([no test files])"},

		{"./... where one package ran tests",
			"?   \texample.com/x/cmd/tool\t[no test files]\nok  \texample.com/x/ok\t0.004s\nok  \texample.com/x/pkg/flags\t0.004s\n?   \texample.com/x/pkg/none\t[no test files]\n", ""},
		{"./... cached", "?   \texample.com/x/cmd/tool\t[no test files]\nok  \texample.com/x/ok\t(cached)\nok  \texample.com/x/pkg/flags\t(cached)\n", ""},
		{"a package named ok ran tests", "ok  \tok\t0.002s\n", ""},
		{"-v, a test logs a line like a package line",
			"=== RUN   TestOK\n    ok_test.go:3: ok  \tfake\t0.1s [no tests to run]\n--- PASS: TestOK (0.00s)\nPASS\nok  \texample.com/x/ok\t0.003s\n", ""},
		{"-cover where a package without statements loses its newline",
			"\texample.com/x/cmd/tool\t\tok  \texample.com/x/ok\t0.007s\tcoverage: [no statements]\nok  \texample.com/x/pkg/flags\t0.003s\tcoverage: 0.0% of statements\n?   \texample.com/x/pkg/none\t[no test files]\n", ""},
		{"a test failed", "--- FAIL: TestAdd (0.00s)\n    calc_test.go:8: Add(1, 2) = 4\nFAIL\nFAIL\texample.com/calc\t0.003s\n?   \texample.com/calc/cmd\t[no test files]\nFAIL\n", ""},
		{"a build failed beside packages without tests",
			"# example.com/x/pkg/flags\npkg/flags/flags.go:3:38: undefined: y\n?   \texample.com/x/pkg/none\t[no test files]\nFAIL\texample.com/x/pkg/flags [build failed]\nFAIL\n", ""},
		{"setup failed", "# ./nonexist\nstat /tmp/x/nonexist: directory not found\nFAIL\t./nonexist [setup failed]\nFAIL\n", ""},
		{"a panic's stack trace",
			"panic: boom\n\ngoroutine 7 [running]:\nexample.com/x.TestBoom(0xc000)\n\t/tmp/x/x_test.go:5 +0x25\ntesting.tRunner(0xc000, 0x5)\n\t/usr/lib/go/src/testing/testing.go:1792 +0xf3\nFAIL\texample.com/x\t0.005s\nFAIL\n", ""},
		{"go vet alone", "# example.com/x\n./x.go:3:2: fmt.Printf format %d has arg s of wrong type string\n", ""},
		{"no output", "", ""},
		{"text that merely starts with ok", "ok so far\nok  then 12 more\n", ""},
		// A line longer than testScan keeps does not hide the next one.
		{"after a huge line", strings.Repeat("x", 3*maxLine) + "\nok  \texample.com/x/pkg/flags\t0.005s [no tests to run]", flagsNone},
	})
}

// Outputs of go 1.26 `go test -json` (test2json events), in the module of
// TestScanGoTest with packages withtest (TestAdd) and notest (no test
// files).
func TestScanGoTestJSON(t *testing.T) {
	ev := func(pkg, out string) string {
		return `{"Time":"2026-12-07T17:45:06.392910443Z","Action":"output","Package":"example.com/v/` + pkg + `","Output":` + strconv.Quote(out) + "}\n"
	}
	start := func(pkg string) string {
		return `{"Time":"2026-12-07T17:45:06.392781541Z","Action":"start","Package":"example.com/v/` + pkg + `"}` + "\n"
	}
	const withtestNone = "go test ran no test in example.com/v/withtest ([no tests to run])"
	missing := start("withtest") + ev("withtest", "testing: warning: no tests to run\n") + ev("withtest", "PASS\n") +
		ev("withtest", "ok  \texample.com/v/withtest\t(cached) [no tests to run]\n") +
		`{"Time":"2026-12-07T17:45:06.392928771Z","Action":"pass","Package":"example.com/v/withtest","Elapsed":0}` + "\n"
	noFiles := start("notest") + ev("notest", "?   \texample.com/v/notest\t[no test files]\n") +
		`{"Time":"2026-12-07T17:45:06.393029261Z","Action":"skip","Package":"example.com/v/notest","Elapsed":0}` + "\n"
	ran := `{"Time":"2026-12-07T17:45:06.827590226Z","Action":"run","Package":"example.com/v/withtest","Test":"TestAdd"}` + "\n" +
		`{"Time":"2026-12-07T17:45:06.827615554Z","Action":"output","Package":"example.com/v/withtest","Test":"TestAdd","Output":"=== RUN   TestAdd\n"}` + "\n" +
		`{"Time":"2026-12-07T17:45:06.827710936Z","Action":"output","Package":"example.com/v/withtest","Test":"TestAdd","Output":"--- PASS: TestAdd (0.00s)\n"}` + "\n" +
		ev("withtest", "PASS\n") + ev("withtest", "ok  \texample.com/v/withtest\t0.004s\n")
	runScanCases(t, []scanCase{
		{"-run names a missing test", missing, withtestNone},
		{"no test files", noFiles, "go test ran no test in example.com/v/notest ([no test files])"},
		{"both", missing + noFiles, withtestNone + ", example.com/v/notest ([no test files])"},
		{"in the package's directory", start("withtest") + ev("withtest", "testing: warning: no tests to run\n") + ev("withtest", "PASS\n") +
			ev("withtest", "ok  \texample.com/v/withtest\t0.003s\n"), withtestNone},
		{"a line split over two events", ev("withtest", "ok  \texample.com/v/with") + ev("withtest", "test\t0.005s [no tests to run]\n"), withtestNone},

		{"a test ran beside a package without tests", start("withtest") + start("notest") + noFiles + ran, ""},
		// Another package's warning, not yet followed by its ok line, does
		// not make this package's ok line one that ran no test.
		{"packages interleaved", start("withtest") + start("notest") + ev("notest", "testing: warning: no tests to run\n") + ran +
			ev("notest", "ok  \texample.com/v/notest\t0.003s [no tests to run]\n"), ""},
		{"a test failed", `{"Action":"output","Package":"example.com/v/fails","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}` + "\n" +
			ev("fails", "FAIL\n") + ev("fails", "FAIL\texample.com/v/fails\t0.002s\n"), ""},
		{"a build failed", `{"ImportPath":"example.com/v/bf [example.com/v/bf.test]","Action":"build-output","Output":"bf/b.go:2:12: undefined: y\n"}` + "\n" +
			`{"ImportPath":"example.com/v/bf [example.com/v/bf.test]","Action":"build-fail"}` + "\n" + ev("bf", "FAIL\texample.com/v/bf [build failed]\n") + noFiles, ""},
		{"JSON that is not test2json's", `{"level":"info","msg":"ok  \tfake\t0.1s [no tests to run]"}` + "\n", ""},
	})
}

// Outputs of pytest 7.2.1 (Debian's python3-pytest), in a directory with
// t/test_a.py (test_one, test_two, a skipped test_skipped), t/test_b.py
// (test_fail), an empty directory, and err/ whose module fails to import.
func TestScanPytest(t *testing.T) {
	const header = "============================= test session starts ==============================\nplatform linux -- Python 3.11.2, pytest-7.2.1, pluggy-1.0.0+repack\nrootdir: /tmp/vac/py\n"
	runScanCases(t, []scanCase{
		{"no tests collected", header + "collected 0 items\n\n============================ no tests ran in 0.00s =============================\n", "pytest ran no test (no tests ran in 0.00s)"},
		{"-q", "\nno tests ran in 0.00s\n", "pytest ran no test (no tests ran in 0.00s)"},
		{"--color=yes", "\x1b[1m============================= test session starts ==============================\x1b[0m\ncollected 0 items\n\n\x1b[33m============================ \x1b[33mno tests ran\x1b[0m\x1b[33m in 0.00s\x1b[0m\x1b[33m =============================\x1b[0m\n",
			"pytest ran no test (no tests ran in 0.00s)"},
		{"-k matches nothing", header + "collected 3 items / 3 deselected / 0 selected\n\n============================ 3 deselected in 0.00s =============================\n", "pytest ran no test (3 deselected in 0.00s)"},
		{"-k matches nothing, with a warning", "======================= 1 deselected, 1 warning in 0.01s =======================\n", "pytest ran no test (1 deselected, 1 warning in 0.01s)"},
		{"-k matches only a skipped test", "t/test_a.py s                                                            [100%]\n\n======================= 1 skipped, 2 deselected in 0.01s =======================\n",
			"pytest ran no test (1 skipped, 2 deselected in 0.01s)"},
		{"a node id that does not exist", header + "collected 0 items\n\n============================ no tests ran in 0.00s =============================\nERROR: not found: /tmp/vac/py/t/test_a.py::test_missing\n(no name '/tmp/vac/py/t/test_a.py::test_missing' in any of [<Module t/test_a.py>])\n\n",
			"pytest ran no test (no tests ran in 0.00s)"},

		{"passed and skipped", header + "collected 3 items\n\nt/test_a.py ..s                                                          [100%]\n\n========================= 2 passed, 1 skipped in 0.01s =========================\n", ""},
		{"-k selects one", "======================= 1 passed, 2 deselected in 0.01s ========================\n", ""},
		{"a failure, -q", "..sF                                                                     [100%]\nFAILED t/test_b.py::test_fail - assert 1 == 2\n1 failed, 2 passed, 1 skipped in 0.02s\n", ""},
		{"a collection error", header + "collected 0 items / 1 error\n\n!!!!!!!!!!!!!!!!!!!! Interrupted: 1 error during collection !!!!!!!!!!!!!!!!!!!!\n=============================== 1 error in 0.08s ===============================\n", ""},
		{"a long run", "========================= 12 passed in 61.23s (0:01:01) =========================\n", ""},
	})
}

// Outputs of cargo 1.95 `cargo test`, in a crate with a unit test, an
// ignored test, an integration test and a doc-test, and in one without tests.
func TestScanCargoTest(t *testing.T) {
	const filtered = "    Finished `test` profile [unoptimized + debuginfo] target(s) in 0.01s\n     Running unittests src/lib.rs (target/debug/deps/crs-3f76d062b94128a6)\n\nrunning 0 tests\n\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 2 filtered out; finished in 0.00s\n\n     Running tests/it.rs (target/debug/deps/it-f385004421a31244)\n\nrunning 0 tests\n\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 1 filtered out; finished in 0.00s\n\n"
	runScanCases(t, []scanCase{
		{"a filter that matches nothing", filtered, "cargo test ran no test (0 passed, 0 failed in 2 sections; 3 filtered out)"},
		{"a crate without tests", "   Compiling crempty v0.1.0 (/tmp/vac/crempty)\n    Finished `test` profile [unoptimized + debuginfo] target(s) in 0.18s\n     Running unittests src/lib.rs (target/debug/deps/crempty-2bd3585cc70620cb)\n\nrunning 0 tests\n\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n\n   Doc-tests crempty\n\nrunning 0 tests\n\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n\n",
			"cargo test ran no test (0 passed, 0 failed in 2 sections)"},
		{"a filter that matches only an ignored test", "running 1 test\ntest slow ... ignored\n\ntest result: ok. 0 passed; 0 failed; 1 ignored; 0 measured; 1 filtered out; finished in 0.00s\n\n",
			"cargo test ran no test (0 passed, 0 failed in 1 section; 1 ignored, 1 filtered out)"},

		{"every section ran tests", "running 2 tests\ntest slow ... ignored\ntest tests::it_works ... ok\n\ntest result: ok. 1 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s\n\n   Doc-tests crs\n\nrunning 1 test\ntest src/lib.rs - add2 (line 18) ... ok\n\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n\nall doctests ran in 0.36s; merged doctests compilation took 0.35s\n", ""},
		{"one section of several ran a test", filtered + "   Doc-tests crs\n\nrunning 1 test\ntest src/lib.rs - add2 (line 18) ... ok\n\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n", ""},
		{"a failure", "failures:\n    integration_works\n\ntest result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.11s\n\nerror: test failed, to rerun pass `--test it`\n", ""},
	})
}

// Outputs of jest 30.5.2 (npm), in a package with src/sum.test.js (two
// tests and a skipped one).
func TestScanJest(t *testing.T) {
	const noTests = "No tests found, exiting with code 1\nRun with `--passWithNoTests` to exit with code 0\nIn /tmp/vac/js\n  3 files checked.\n  testMatch: **/__tests__/**/*.?([mc])[jt]s?(x), **/?(*.)+(spec|test).?([mc])[jt]s?(x) - 1 match\n  testPathIgnorePatterns: /node_modules/ - 3 matches\n  testRegex:  - 0 matches\nPattern: empty - 0 matches\n"
	runScanCases(t, []scanCase{
		{"no test files", noTests, "jest ran no test (No tests found, exiting with code 1)"},
		{"--passWithNoTests", "No tests found, exiting with code 0\n", "jest ran no test (No tests found, exiting with code 0)"},
		{"-t matches nothing", "Test Suites: 1 skipped, 0 of 1 total\nTests:       3 skipped, 3 total\nSnapshots:   0 total\nTime:        0.268 s, estimated 1 s\nRan all test suites matching src with tests matching \"nomatch\".\n",
			"jest ran no test (Tests: 3 skipped, 3 total)"},
		{"-t matches nothing, in colour", "\x1b[1mTest Suites: \x1b[22m\x1b[1m\x1b[33m1 skipped\x1b[39m\x1b[22m, 0 of 1 total\n\x1b[1mTests:       \x1b[22m\x1b[1m\x1b[33m3 skipped\x1b[39m\x1b[22m, 3 total\n\x1b[1mSnapshots:   \x1b[22m0 total\n",
			"jest ran no test (Tests: 3 skipped, 3 total)"},

		{"tests passed", "PASS src/sum.test.js\n  ✓ adds (3 ms)\n  ✓ adds again\n  ○ skipped later\n\nTest Suites: 1 passed, 1 total\nTests:       1 skipped, 2 passed, 3 total\nSnapshots:   0 total\nTime:        0.707 s\nRan all test suites matching src.\n", ""},
		{"a test failed", "Test Suites: 1 failed, 1 total\nTests:       1 failed, 1 total\nSnapshots:   0 total\n", ""},
		{"suites failed to run", "FAIL jb/none.test.js\n  ● Test suite failed to run\n    Your test suite must contain at least one test.\nTest Suites: 2 failed, 2 total\nTests:       0 total\nSnapshots:   0 total\n", ""},
	})
}

// Outputs of vitest 4.1.12 (npm), with v/sum.test.js (two tests and a
// skipped one) and v/bad.test.js (a failing test).
func TestScanVitest(t *testing.T) {
	runScanCases(t, []scanCase{
		{"no test files", "\n RUN  v4.1.12 /tmp/vac/js\n\nNo test files found, exiting with code 1\n\nfilter: empty\ninclude: **/*.{test,spec}.?(c|m)[jt]s?(x)\n", "vitest ran no test (No test files found, exiting with code 1)"},
		{"--passWithNoTests, in colour", "\n\x1b[1m\x1b[30m\x1b[46m RUN \x1b[49m\x1b[39m\x1b[22m \x1b[36mv4.1.12 \x1b[39m\x1b[90m/tmp/vac/js\x1b[39m\n\nNo test files found, exiting with code 0\n\n",
			"vitest ran no test (No test files found, exiting with code 0)"},
		{"-t matches nothing", " ↓ v/sum.test.js (3 tests | 3 skipped)\n\n Test Files  1 skipped (1)\n      Tests  3 skipped (3)\n   Start at  23:51:46\n   Duration  282ms (transform 41ms, setup 0ms, import 55ms, tests 0ms, environment 0ms)\n",
			"vitest ran no test (Tests 3 skipped)"},
		{"-t matches nothing, in colour", "\x1b[2m Test Files \x1b[22m \x1b[33m2 skipped\x1b[39m\x1b[90m (2)\x1b[39m\n\x1b[2m      Tests \x1b[22m \x1b[33m4 skipped\x1b[39m\x1b[90m (4)\x1b[39m\n",
			"vitest ran no test (Tests 4 skipped)"},

		{"tests passed", "\x1b[2m Test Files \x1b[22m \x1b[1m\x1b[32m1 passed\x1b[39m\x1b[22m\x1b[90m (1)\x1b[39m\n\x1b[2m      Tests \x1b[22m \x1b[1m\x1b[32m2 passed\x1b[39m\x1b[22m\x1b[2m | \x1b[22m\x1b[33m1 skipped\x1b[39m\x1b[90m (3)\x1b[39m\n", ""},
		{"a test failed", " Test Files  1 failed | 1 passed (2)\n      Tests  1 failed | 2 passed | 1 skipped (4)\n", ""},
		{"a file failed to load", " Test Files  1 failed (1)\n      Tests  no tests\n   Start at  23:52:11\n", ""},
	})
}

// Runners that ran tests make a command that also ran one without tests
// count as tested; a command without runners is left to its exit status.
func TestScanMixedAndNone(t *testing.T) {
	runScanCases(t, []scanCase{
		{"go tested, pytest did not", "ok  \texample.com/x/ok\t0.004s\n\nno tests ran in 0.00s\n", ""},
		{"neither go nor jest tested", "?   \texample.com/x/pkg/none\t[no test files]\nNo tests found, exiting with code 0\n",
			"go test ran no test in example.com/x/pkg/none ([no test files]); jest ran no test (No tests found, exiting with code 0)"},
		{"golangci-lint", "0 issues.\n", ""},
		{"make lint", "gofmt -l .\ngo vet ./...\n", ""},
	})
}

// goModule writes a Go module example.com/v with package withtest (TestAdd)
// and package notest (no test files).
func goModule(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go is not on PATH")
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":               "module example.com/v\n\ngo 1.22\n",
		"withtest/add.go":      "package withtest\n\nfunc Add(a, b int) int { return a + b }\n",
		"withtest/add_test.go": "package withtest\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {\n\tif Add(1, 2) != 3 {\n\t\tt.Fatal(\"Add(1, 2) != 3\")\n\t}\n}\n",
		"notest/notest.go":     "package notest\n\nfunc Two() int { return 2 }\n",
		"notest/more/more.go":  "package more\n",
	}
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// goEnv is the base environment with the caller's Go caches, so that the
// checks build quickly.
func goEnv() []string {
	env := proc.BaseEnv()
	for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOTOOLCHAIN"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// A real go test that ran no test fails with its reason; the same command
// naming a test that exists passes.
func TestRunRealGoTest(t *testing.T) {
	dir := goModule(t)
	env := goEnv()
	for _, c := range []struct {
		run, reason string
	}{
		{"go test ./withtest/ -run TestMissing", "ran no tests: go test ran no test in example.com/v/withtest ([no tests to run])"},
		{"go vet ./notest/... && go test ./notest/...", "ran no tests: go test ran no test in example.com/v/notest ([no test files]), example.com/v/notest/more ([no test files])"},
		{"go test -json ./withtest/ -run TestMissing", "ran no tests: go test ran no test in example.com/v/withtest ([no tests to run])"},
		{"go vet ./... && go test -json ./notest/", "ran no tests: go test ran no test in example.com/v/notest ([no test files])"},
		{"cd withtest && go test -json -run TestMissing", "ran no tests: go test ran no test in example.com/v/withtest ([no tests to run])"},
		{"go test ./withtest/ -run TestAdd", ""},
		{"go test ./...", ""},
		{"go test -json ./...", ""},
	} {
		r := Run(ctx, dir, env, Check{Name: c.run, Run: c.run}, nil)
		if r.Reason != c.reason || r.Passed != (c.reason == "") || r.ExitCode != 0 {
			t.Errorf("%s: passed %v, exit %d, reason %q; want reason %q\noutput:\n%s", c.run, r.Passed, r.ExitCode, r.Reason, c.reason, r.Output)
		}
	}
}

// The ok line of a go test comes before more output than Result.Output
// keeps: the reason still says no test ran.
func TestRunSeesOutputBeyondTheTail(t *testing.T) {
	dir := goModule(t)
	run := "go test ./withtest/ -run TestMissing && i=0; while [ $i -lt 3000 ]; do echo \"later output line $i ........................\"; i=$((i+1)); done"
	r := Run(ctx, dir, goEnv(), Check{Name: "loud", Run: run}, nil)
	if strings.Contains(r.Output, "no tests to run") || !strings.HasPrefix(r.Output, "[... ") {
		t.Fatalf("the ok line should be cut from the kept output:\n%.300s", r.Output)
	}
	if r.Passed || r.ExitCode != 0 || r.Reason != "ran no tests: go test ran no test in example.com/v/withtest ([no tests to run])" {
		t.Fatalf("passed %v, exit %d, reason %q", r.Passed, r.ExitCode, r.Reason)
	}
}

// pytest fails by its exit status 5 already; the reason says why.
func TestRunRealPytestWithoutTests(t *testing.T) {
	if _, err := exec.LookPath("pytest"); err != nil {
		t.Skip("pytest is not installed (apt-get install python3-pytest)")
	}
	r := Run(ctx, t.TempDir(), proc.BaseEnv(), Check{Name: "pytest", Run: "pytest -p no:cacheprovider"}, nil)
	if r.Passed || r.ExitCode != 5 || !strings.HasPrefix(r.Reason, "ran no tests: pytest ran no test (no tests ran in ") || !strings.HasSuffix(r.Reason, "); exit status 5") {
		t.Fatalf("passed %v, exit %d, reason %q\n%s", r.Passed, r.ExitCode, r.Reason, r.Output)
	}
}

// A check killed by its timeout keeps that reason, whatever it printed.
func TestRunKilledIsNotCalledVacuous(t *testing.T) {
	r := Run(ctx, t.TempDir(), proc.BaseEnv(), Check{Name: "hang", Run: "printf 'ok  \\tex/p\\t0.1s [no tests to run]\\n'; sleep 30", StallTimeout: 300 * time.Millisecond}, nil)
	if r.Passed || !strings.HasPrefix(r.Reason, "killed: ") {
		t.Fatalf("passed %v, reason %q", r.Passed, r.Reason)
	}
}
