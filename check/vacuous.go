package check

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// A command that ran no test is not a pass: `go test ./x -run TestNew`
// exits 0 with "[no tests to run]" before TestNew is written, and the
// criterion "`go test ./x -run TestNew` passes" must not be met by that.
// testScan reads a check's whole output line by line as it streams (the
// kept tail may have lost the early ok lines of a `go test ./...`) and asks
// each test runner it knows what that runner reported.

// maxLine bounds the part of one output line kept for recognition; no
// runner's summary line comes near it.
const maxLine = 16 << 10

// testScan is an io.Writer that splits output into lines for the runners.
// Call ranNoTests after the last write.
type testScan struct {
	runners []runner
	goTest  *goTest
	line    []byte // the line being written, at most maxLine bytes
	// events holds, per package, the start of a line that `go test -json`
	// (test2json) split over several output events.
	events map[string][]byte
}

func newTestScan() *testScan {
	g := &goTest{}
	return &testScan{runners: []runner{g, &pytest{}, &jest{}, &vitest{}, &libtest{}}, goTest: g}
}

func (s *testScan) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.keep(p)
			break
		}
		s.keep(p[:i])
		s.feed()
		p = p[i+1:]
	}
	return n, nil
}

func (s *testScan) keep(p []byte) {
	if room := maxLine - len(s.line); room < len(p) {
		p = p[:room]
	}
	s.line = append(s.line, p...)
}

// feed hands the current line to every runner, as a terminal would show
// it: without colours, and only what follows a carriage return. A line of
// `go test -json` hands on the output it carries instead.
func (s *testScan) feed() {
	l := string(s.line)
	s.line = s.line[:0]
	if s.event(l) {
		return
	}
	s.dispatch("", l)
}

// dispatch hands one line of output to every runner; pkg is the Go package
// that printed it when a test2json event said so, else "".
func (s *testScan) dispatch(pkg, l string) {
	l = strings.TrimRight(l, "\r")
	if i := strings.LastIndexByte(l, '\r'); i >= 0 {
		l = l[i+1:]
	}
	if strings.IndexByte(l, '\x1b') >= 0 {
		l = ansiRE.ReplaceAllString(l, "")
	}
	s.goTest.pkg = pkg
	for _, r := range s.runners {
		r.line(l)
	}
}

// testEvent is the part of a test2json event (`go test -json`) read here.
type testEvent struct {
	Action  string
	Package string
	Output  *string
}

// event reads l as a test2json event and, for an output event, hands the
// lines of its output to the runners (an event may carry part of a line:
// the rest follows in the package's next output event). It reports whether
// l was such an event.
func (s *testScan) event(l string) bool {
	if !strings.HasPrefix(l, "{") || !strings.Contains(l, `"Action"`) {
		return false
	}
	var e testEvent
	if json.Unmarshal([]byte(l), &e) != nil || e.Action == "" {
		return false
	}
	if e.Action != "output" || e.Output == nil {
		return true // start, run, pass, fail, build-output ...: the output events say it all
	}
	if s.events == nil {
		s.events = map[string][]byte{}
	}
	buf := append(s.events[e.Package], *e.Output...)
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		s.dispatch(e.Package, string(buf[:i]))
		buf = buf[i+1:]
	}
	if len(buf) > maxLine {
		buf = buf[:maxLine]
	}
	s.events[e.Package] = bytes.Clone(buf)
	return true
}

var ansiRE = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]`)

// ranNoTests says what the runners reported when at least one runner's
// report was seen and none shows a test that ran or anything that failed;
// otherwise "". A command without any runner's report is judged by its
// exit status alone.
func (s *testScan) ranNoTests() string {
	if len(s.line) > 0 {
		s.feed() // the last line had no newline
	}
	for pkg, rest := range s.events {
		if len(rest) > 0 {
			s.dispatch(pkg, string(rest))
		}
	}
	s.events = nil
	var said []string
	for _, r := range s.runners {
		rep := r.result()
		if rep.tested {
			return ""
		}
		if rep.seen {
			said = append(said, rep.said)
		}
	}
	return strings.Join(said, "; ")
}

// runner recognises one test runner's report.
type runner interface {
	line(l string)
	result() report
}

// report is what a runner made of the output. Runners that keep no more
// than this embed it.
type report struct {
	seen   bool   // the runner's report was in the output
	tested bool   // a test ran (passed or failed), or something failed
	said   string // when seen and not tested: what it said, for the reason
}

func (r report) result() report { return r }

// goTest reads `go test` package lines, also from `go test -json` (which
// testScan unwraps). A package ran no test when its line says "[no tests to
// run]" or "[no test files]", when -cover prints it as "\tpkg\t\tcoverage:
// ...", or when "testing: warning: no tests to run" comes before its ok
// line (go test run in the package's directory).
type goTest struct {
	ran, failed bool
	none        int      // packages that ran no test
	named       []string // "pkg (why)" for the first three of them
	// warned holds, by package, a warning not yet matched to a package
	// line. The package is pkg: "" for plain output, whose packages print
	// in turn; the event's own for -json, whose packages may interleave.
	warned map[string]bool
	pkg    string
}

func (g *goTest) noTest(pkg, why string) {
	g.none++
	if len(g.named) < 3 {
		g.named = append(g.named, pkg+" ("+why+")")
	}
}

func (g *goTest) line(l string) {
	if l == "testing: warning: no tests to run" {
		if g.warned == nil {
			g.warned = map[string]bool{}
		}
		g.warned[g.pkg] = true
		return
	}
	f := strings.Fields(l)
	if len(f) == 0 {
		return
	}
	switch {
	case f[0] == "ok" && len(f) >= 3 && goDuration(f[2]):
		if strings.HasSuffix(l, "[no tests to run]") || g.warned[g.pkg] {
			g.noTest(f[1], "[no tests to run]")
		} else {
			g.ran = true
		}
		delete(g.warned, g.pkg)
	case f[0] == "?" && len(f) >= 2 && strings.HasSuffix(l, "\t[no test files]"):
		g.noTest(f[1], "[no test files]")
	case strings.HasPrefix(l, "\t"):
		// -cover: "\tpkg\t\tcoverage: 0.0% of statements". A package
		// without statements gets no newline, so the next line follows.
		parts := strings.SplitN(l[1:], "\t", 3)
		if len(parts) == 3 && parts[1] == "" && parts[0] != "" && !strings.ContainsRune(parts[0], ' ') {
			g.noTest(parts[0], "[no test files]")
			if rest := parts[2]; rest != "" && !strings.HasPrefix(rest, "coverage:") {
				g.line(rest)
			}
		}
	case f[0] == "FAIL" || f[0] == "---" && len(f) > 1 && f[1] == "FAIL:":
		g.failed = true
	}
}

// goDuration reports whether s is the time field of a go test ok line.
func goDuration(s string) bool {
	if s == "(cached)" {
		return true
	}
	_, err := strconv.ParseFloat(strings.TrimSuffix(s, "s"), 64)
	return err == nil && strings.HasSuffix(s, "s")
}

func (g *goTest) result() report {
	rep := report{seen: g.ran || len(g.warned) > 0 || g.none > 0, tested: g.ran || g.failed}
	switch {
	case g.none == 0:
		// A test binary run by hand warns and prints no package line.
		rep.said = "go test ran no test (testing: warning: no tests to run)"
	case g.none > len(g.named):
		rep.said = fmt.Sprintf("go test ran no test in %d packages: %s and %d more", g.none, strings.Join(g.named, ", "), g.none-len(g.named))
	default:
		rep.said = "go test ran no test in " + strings.Join(g.named, ", ")
	}
	return rep
}

// counts parses a runner's tally: parts like "3 skipped" separated by sep,
// into word -> number; ok is false when a part is not of that shape.
func counts(s, sep string) (map[string]int, bool) {
	m := map[string]int{}
	for _, part := range strings.Split(s, sep) {
		num, word, found := strings.Cut(strings.TrimSpace(part), " ")
		n, err := strconv.Atoi(num)
		if !found || err != nil || word == "" {
			return nil, false
		}
		m[word] += n
	}
	return m, true
}

// pytest reads the final summary line: "=== 3 deselected in 0.01s ===",
// "no tests ran in 0.00s" (-q), "2 passed, 1 skipped in 0.01s". Only
// skipped or deselected tests is no test run.
type pytest struct{ report }

var pytestSummaryRE = regexp.MustCompile(`^=*\s*((.+) in \d+(?:\.\d+)?s(?: \(\d+:\d\d:\d\d\))?)\s*=*$`)

// pytestWords are the words of pytest's tally, true for those that mean a
// test ran.
var pytestWords = map[string]bool{"passed": true, "failed": true, "xfailed": true, "xpassed": true, "error": true, "errors": true, "rerun": true,
	"skipped": false, "deselected": false, "warning": false, "warnings": false}

func (p *pytest) line(l string) {
	m := pytestSummaryRE.FindStringSubmatch(l)
	if m == nil {
		return
	}
	summary, tally := m[1], m[2]
	if tally == "no tests ran" {
		p.seen, p.said = true, "pytest ran no test ("+summary+")"
		return
	}
	c, ok := counts(tally, ",")
	if !ok {
		return
	}
	ran := false
	for w, n := range c {
		tested, known := pytestWords[w]
		if !known {
			return // not pytest's tally
		}
		ran = ran || tested && n > 0
	}
	p.seen, p.tested = true, p.tested || ran
	if !ran {
		p.said = "pytest ran no test (" + summary + ")"
	}
}

// jest reads "No tests found, exiting with code N" (with or without
// --passWithNoTests) and the "Tests:" tally: a -t pattern that matches no
// test leaves them all skipped, and jest exits 0.
type jest struct{ report }

func (j *jest) line(l string) {
	l = strings.TrimSpace(l)
	switch {
	case strings.HasPrefix(l, "No tests found"):
		j.seen, j.said = true, "jest ran no test ("+l+")"
	case strings.HasPrefix(l, "Tests:"):
		c, ok := counts(strings.TrimPrefix(l, "Tests:"), ",")
		if !ok {
			return
		}
		j.seen = true
		if c["passed"]+c["failed"] > 0 {
			j.tested = true
		} else {
			j.said = "jest ran no test (Tests: " + strings.Join(strings.Fields(strings.TrimPrefix(l, "Tests:")), " ") + ")"
		}
	case strings.HasPrefix(l, "Test Suites:"):
		// A suite that failed to run has no tests, and is a failure.
		if c, ok := counts(strings.TrimPrefix(l, "Test Suites:"), ","); ok && c["failed"] > 0 {
			j.tested = true
		}
	}
}

// vitest reads "No test files found, exiting with code N" and the tallies
// "Tests  3 skipped (3)", "Tests  no tests", "Test Files  1 failed (1)".
type vitest struct{ report }

var vitestTallyRE = regexp.MustCompile(`^(Tests|Test Files) {2,}(.+?)(?: \(\d+\))?$`)

func (v *vitest) line(l string) {
	l = strings.TrimSpace(l)
	if strings.HasPrefix(l, "No test files found") {
		v.seen, v.said = true, "vitest ran no test ("+l+")"
		return
	}
	m := vitestTallyRE.FindStringSubmatch(l)
	if m == nil {
		return
	}
	c, ok := counts(m[2], "|")
	if !ok && m[2] != "no tests" {
		return
	}
	if m[1] == "Test Files" {
		v.tested = v.tested || c["failed"] > 0 // a file that failed to load
		return
	}
	v.seen = true
	if c["passed"]+c["failed"] > 0 {
		v.tested = true
	} else {
		v.said = "vitest ran no test (Tests " + m[2] + ")"
	}
}

// libtest reads Rust's test harness (cargo test): one "test result:" line
// for each unit, integration and doc-test section. No test ran when every
// section passed and failed nothing: "running 0 tests", all filtered out
// or ignored.
type libtest struct {
	sections, passed, failed, ignored, filtered int
	broke                                       bool // a FAILED result
}

var libtestResultRE = regexp.MustCompile(`^test result: (ok|FAILED)\. (\d+) passed; (\d+) failed; (\d+) ignored; \d+ measured; (\d+) filtered out`)

func (t *libtest) line(l string) {
	m := libtestResultRE.FindStringSubmatch(l)
	if m == nil {
		return
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	t.sections++
	t.broke = t.broke || m[1] == "FAILED"
	t.passed += n(2)
	t.failed += n(3)
	t.ignored += n(4)
	t.filtered += n(5)
}

func (t *libtest) result() report {
	if t.sections == 0 {
		return report{}
	}
	said := fmt.Sprintf("cargo test ran no test (0 passed, 0 failed in %d section", t.sections)
	if t.sections > 1 {
		said += "s"
	}
	var more []string
	if t.ignored > 0 {
		more = append(more, fmt.Sprintf("%d ignored", t.ignored))
	}
	if t.filtered > 0 {
		more = append(more, fmt.Sprintf("%d filtered out", t.filtered))
	}
	if len(more) > 0 {
		said += "; " + strings.Join(more, ", ")
	}
	return report{seen: true, tested: t.passed+t.failed > 0 || t.broke, said: said + ")"}
}
