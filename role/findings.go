package role

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"github.com/agentorg/agentorg/check"
	"github.com/agentorg/agentorg/criteria"
	"github.com/agentorg/agentorg/eventlog"
)

// Finding keys are stable across attempts, so the convergence policy can
// tell the same failure coming back from progress:
//
//	check:<name>:<fingerprint of its normalised output>
//	criterion:<normalised text>
//	hygiene:<kind>:<path>
//	conflict:<path>
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
)

// checkFinding describes a failing check; its key changes when the failure
// does, and not with timings, addresses or the checkout's path.
func checkFinding(res check.Result, dir string) eventlog.Finding {
	norm := strings.ReplaceAll(res.Output, dir, ".")
	norm = digitsRE.ReplaceAllString(norm, "N")
	norm = spaceRE.ReplaceAllString(norm, " ")
	sum := sha256.Sum256([]byte(res.Reason + "\n" + norm))
	return eventlog.Finding{
		Key:  "check:" + res.Name + ":" + hex.EncodeToString(sum[:4]),
		Text: fmt.Sprintf("Check `%s` failed (%s):\n\n```\n%s\n```", res.Name, res.Reason, strings.TrimRight(check.Trim(res.Output, promptOutputMax), "\n")),
	}
}

func criterionFinding(r criteria.Result) eventlog.Finding {
	return eventlog.Finding{
		Key:  "criterion:" + strings.ToLower(strings.Join(strings.Fields(r.Text), " ")),
		Text: fmt.Sprintf("Acceptance criterion %d is %s: %s\n  Reason (%s): %s", r.ID, r.Verdict, r.Text, r.By, r.Evidence),
	}
}

func conflictFinding(path, target string) eventlog.Finding {
	return eventlog.Finding{
		Key:  keyConflict + path,
		Text: fmt.Sprintf("`%s` conflicts with %s, which moved since your branch was made.", path, target),
	}
}

// conflicts returns the conflicting paths among an attempt's findings.
func conflicts(fs []eventlog.Finding) []string {
	var out []string
	for _, f := range fs {
		if p, ok := strings.CutPrefix(f.Key, keyConflict); ok {
			out = append(out, p)
		}
	}
	return out
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
		if strings.HasPrefix(f.Key, keyConflict) {
			continue
		}
		k++
		fmt.Fprintf(&b, "%d. %s\n\n", k, f.Text)
	}
	return strings.TrimSpace(b.String())
}
