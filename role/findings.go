package role

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/agentorg/agentorg/check"
	"github.com/agentorg/agentorg/criteria"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/hygiene"
)

// Finding keys are stable across attempts, so the convergence policy can
// tell the same failure coming back from progress:
//
//	check:<name>:<fingerprint of its normalised output>
//	criterion:<normalised text>
//	hygiene:<kind>:<path>
//	conflict:<path>@<the target head it conflicts with>
//	empty
const (
	keyConflict = "conflict:"
	keyEmpty    = "empty"
)

// promptOutputMax bounds a failing check's output in the developer's prompt:
// the end of the output, where test runners put the failure.
const promptOutputMax = 3 << 10

var (
	digitsRE = regexp.MustCompile(`[0-9]+`)
	spaceRE  = regexp.MustCompile(`\s+`)
	// A checkout slot's path (see workspace.Mirror.Lease): a check's output
	// names the one it ran in, which differs from run to run.
	slotRE = regexp.MustCompile(`/[^\s'"]*?/checkouts/slots/slot-[0-9a-z]+`)
)

// checkFinding describes a failing check; its key changes when the failure
// does, and not with timings, addresses or the checkout's path.
func checkFinding(res check.Result, dir string) eventlog.Finding {
	return eventlog.Finding{
		Key:  "check:" + res.Name + ":" + fingerprint(res, dir),
		Text: fmt.Sprintf("Check `%s` failed (%s):\n\n```\n%s\n```", res.Name, res.Reason, strings.TrimRight(check.Trim(res.Output, promptOutputMax), "\n")),
	}
}

// normalOutput is a check's output without what changes from run to run:
// the checkout's path (dir, or any slot's), numbers (timings, addresses,
// line numbers), runs of blank space.
func normalOutput(output, dir string) string {
	if dir != "" {
		output = strings.ReplaceAll(output, dir, ".")
	}
	output = slotRE.ReplaceAllString(output, ".")
	output = digitsRE.ReplaceAllString(output, "N")
	return spaceRE.ReplaceAllString(output, " ")
}

// fingerprint names a check's failure: from what failed when the runner's
// failures can be named (which tests, packages, file messages), so that
// noise around them (another package's "(cached)", a timing) does not
// change it; else from the normalised output.
func fingerprint(res check.Result, dir string) string {
	text := normalOutput(res.Output, dir)
	if names := failureNames(res.Output, dir); len(names) > 0 {
		text = strings.Join(names, "\n")
	}
	sum := sha256.Sum256([]byte(res.Reason + "\n" + text))
	return hex.EncodeToString(sum[:4])
}

var (
	// go test: "--- FAIL: TestX (0.00s)", and a failing package's
	// "FAIL\tpkg\t0.01s" or "FAIL\tpkg [build failed]".
	goTestFailRE = regexp.MustCompile(`(?m)^\s*--- FAIL: (\S+)`)
	goPkgFailRE  = regexp.MustCompile(`(?m)^FAIL[ \t]+(\S+)`)
	// Compilers and linters (go vet, gcc, tsc, eslint's unix format):
	// "path:line[:col]: message" at the start of a line (a test's own
	// log lines are indented: they belong to the failing test).
	fileMsgRE = regexp.MustCompile(`(?m)^(\S+\.[A-Za-z0-9]+):\d+(?::\d+)?:[ \t]*(.+?)[ \t]*$`)
)

// failureNames lists what failed in a check's output, sorted and without
// repeats, for the runners whose failures can be named; nil otherwise.
func failureNames(output, dir string) []string {
	output = slotRE.ReplaceAllString(output, ".")
	if dir != "" {
		output = strings.ReplaceAll(output, dir, ".")
	}
	seen := map[string]bool{}
	for _, m := range goTestFailRE.FindAllStringSubmatch(output, -1) {
		seen["test "+m[1]] = true
	}
	for _, m := range goPkgFailRE.FindAllStringSubmatch(output, -1) {
		seen["package "+m[1]] = true
	}
	for _, m := range fileMsgRE.FindAllStringSubmatch(output, -1) {
		seen["file "+strings.TrimPrefix(m[1], "./")+": "+digitsRE.ReplaceAllString(m[2], "N")] = true
	}
	if len(seen) == 0 {
		return nil
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func criterionFinding(r criteria.Result) eventlog.Finding {
	// As written (only spaces normalised): commands and test names are
	// case-sensitive, so the key shows them as they are.
	text := strings.Join(strings.Fields(r.Text), " ")
	if r.From != 0 {
		// Another issue's criterion (a conflict resolved with its merged
		// change): whose it is is part of what failed.
		return eventlog.Finding{
			Key: fmt.Sprintf("criterion:#%d:%s", r.From, text),
			Text: fmt.Sprintf("Acceptance criterion %d of #%d, whose change you resolved a conflict with, is %s on the combined tree: %s\n  Reason (%s): %s\n  Keep #%d's change as well as yours.",
				r.ID, r.From, r.Verdict, r.Text, r.By, r.Evidence, r.From),
		}
	}
	return eventlog.Finding{
		Key:  "criterion:" + text,
		Text: fmt.Sprintf("Acceptance criterion %d is %s: %s\n  Reason (%s): %s", r.ID, r.Verdict, r.Text, r.By, r.Evidence),
	}
}

// fromList names the issues criteria come from: "#12" or "#12, #14".
func fromList(rs []criteria.Result) string {
	var names []string
	for _, r := range rs {
		if name := fmt.Sprintf("#%d", r.From); r.From != 0 && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return strings.Join(names, ", ")
}

func conflictFinding(path, target, base string) eventlog.Finding {
	return eventlog.Finding{
		// The target's head is in the key: the same conflict coming back
		// on the same target is a repeat (the resolution did not hold);
		// one with a target that moved again is a new failure.
		Key:  keyConflict + path + "@" + short(base),
		Text: fmt.Sprintf("`%s` conflicts with %s, which moved since your branch was made.", path, target),
	}
}

// conflicts returns the conflicting paths among an attempt's findings.
func conflicts(fs []eventlog.Finding) []string {
	var out []string
	for _, f := range fs {
		if p, ok := strings.CutPrefix(f.Key, keyConflict); ok {
			if i := strings.LastIndexByte(p, '@'); i >= 0 {
				p = p[:i]
			}
			out = append(out, p)
		}
	}
	return out
}

// onlyConflicts says whether all a NO-GO found is conflicts with the target.
func onlyConflicts(a eventlog.Attempt) bool {
	keys := a.FindingKeys()
	for _, k := range keys {
		if !strings.HasPrefix(k, keyConflict) {
			return false
		}
	}
	return a.Verdict == eventlog.NOGO && len(keys) > 0
}

// fixText is what the developer's resumed session is told: only what still
// fails, each with its evidence.
func fixText(fs []eventlog.Finding, target string) string {
	var b strings.Builder
	if cs := conflicts(fs); len(cs) > 0 {
		fmt.Fprintf(&b, "The target branch %s moved and conflicts with your change in: %s. The engine has started merging %s into this working tree: resolve the conflict markers in those files, keeping the intent of both sides.\n\n",
			target, strings.Join(cs, ", "), target)
	}
	k := 0
	for _, f := range fs {
		if strings.HasPrefix(f.Key, keyConflict) || f.Target {
			continue
		}
		k++
		fmt.Fprintf(&b, "%d. %s\n\n", k, f.Text)
	}
	return strings.TrimSpace(b.String())
}

// notesText lists what hygiene shows without refusing it (a mode change
// under hygiene.modes: report).
func notesText(ns []hygiene.Finding) string {
	var b strings.Builder
	for _, n := range ns {
		fmt.Fprintf(&b, "- %s\n", n.Text())
	}
	return strings.TrimSpace(b.String())
}

// targetText lists the findings the target branch has too: shown in the
// report, never given to the developer to fix.
func targetText(fs []eventlog.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		if f.Target {
			fmt.Fprintf(&b, "- %s\n", f.Text)
		}
	}
	return strings.TrimSpace(b.String())
}
