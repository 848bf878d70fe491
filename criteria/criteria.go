// Package criteria reads acceptance criteria from Markdown (an issue body or
// an approved plan), tells the ones checked by running a command from the
// ones a validator agent judges, parses the agent's structured answer, and
// renders the verdicts as a Markdown table.
package criteria

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Verdicts of one criterion.
const (
	Met     = "met"
	Unmet   = "unmet"
	Unclear = "unclear"
)

// Criterion is one item of an "Acceptance criteria" checklist.
type Criterion struct {
	ID   int    `json:"id"` // 1-based, in document order
	Text string `json:"text"`
	// Command is the command the criterion names in backticks when it says
	// that command passes (succeeds, exits 0, runs, and any test runner in
	// it ran a test: see package check); "" when a validator
	// agent must judge the criterion.
	Command string `json:"command,omitempty"`
	// From is the issue the criterion belongs to when it is not the one
	// validated (0): another issue's, merged on the target meanwhile,
	// whose change this one's was combined with (see package role). Its
	// ID counts in that issue's checklist.
	From int64 `json:"from,omitempty"`
}

// Result is a criterion with its verdict and the evidence for it.
type Result struct {
	Criterion
	Verdict  string `json:"verdict"`
	Evidence string `json:"evidence"`
	// By says who judged: "command" or "validator agent" (or "engine" when
	// nobody could, e.g. no validator agent is configured).
	By string `json:"by"`
}

var (
	headingRE = regexp.MustCompile(`^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$`)
	// A bold or plain line "Acceptance criteria:" also opens the section.
	labelRE = regexp.MustCompile(`(?i)^\s{0,3}(?:\*\*|__)?acceptance criteria:?(?:\*\*|__)?:?\s*$`)
	itemRE  = regexp.MustCompile(`^\s*[-*+]\s+\[[ xX]\]\s+(.*\S)\s*$`)
	tickRE  = regexp.MustCompile("`([^`]+)`")
	// Words that say a backticked command is to be run and must pass.
	runWordRE = regexp.MustCompile(`(?i)\b(pass(es|ing)?|succeed(s)?|exits?\s+(with\s+)?(status\s+)?(0|zero)|runs?\s+(cleanly|successfully|without errors?)|is\s+green|returns?\s+(exit\s+)?(status\s+)?0)\b`)
)

// Parse returns the checklist items under the first heading (or label line)
// "Acceptance criteria" in md, up to the next heading. Items are "- [ ] text"
// (or "[x]", with *, + bullets); an indented line right after an item
// continues it. A document without that section has no criteria.
func Parse(md string) []Criterion {
	var out []Criterion
	in := false
	level := 0
	for _, line := range strings.Split(strings.ReplaceAll(md, "\r\n", "\n"), "\n") {
		if m := headingRE.FindStringSubmatch(line); m != nil {
			if in && len(m[1]) <= level {
				break
			}
			if !in && isTitle(m[2]) {
				in, level = true, len(m[1])
				continue
			}
			if in {
				continue // a sub-heading inside the section
			}
			continue
		}
		if !in {
			if labelRE.MatchString(line) {
				in, level = true, 7 // ends at any heading
			}
			continue
		}
		if m := itemRE.FindStringSubmatch(line); m != nil {
			out = append(out, Criterion{ID: len(out) + 1, Text: m[1]})
			continue
		}
		t := strings.TrimSpace(line)
		if t != "" && len(out) > 0 && (strings.HasPrefix(line, "  ") || strings.HasPrefix(line, "\t")) &&
			!strings.HasPrefix(t, "-") && !strings.HasPrefix(t, "*") && !strings.HasPrefix(t, "+") {
			out[len(out)-1].Text += " " + t
		}
	}
	for i := range out {
		out[i].Command = commandOf(out[i].Text)
	}
	return out
}

func isTitle(s string) bool {
	s = strings.Trim(strings.TrimSpace(s), "*_:")
	return strings.EqualFold(strings.TrimSpace(s), "acceptance criteria")
}

// commandOf returns the first backticked span of a criterion that says the
// command passes, "" otherwise: "`go test ./...` passes" is a command,
// "`Sub(a, b)` returns a - b" is not.
func commandOf(text string) string {
	m := tickRE.FindStringSubmatch(text)
	if m == nil {
		return ""
	}
	rest := strings.Replace(text, m[0], " ", 1)
	if !runWordRE.MatchString(rest) {
		return ""
	}
	return strings.TrimSpace(m[1])
}

// FromIssueOrPlan returns the issue's criteria, or the plan's when the
// issue has none: a human wrote the issue, and approved the plan.
func FromIssueOrPlan(issueBody, plan string) (cs []Criterion, source string) {
	if cs = Parse(issueBody); len(cs) > 0 {
		return cs, "issue"
	}
	if cs = Parse(plan); len(cs) > 0 {
		return cs, "plan"
	}
	return nil, ""
}

// Table renders results as a Markdown table: criterion, verdict, evidence.
// Another issue's criterion says whose it is ("1 (from #12)").
func Table(rs []Result) string {
	var b strings.Builder
	b.WriteString("| # | criterion | verdict | evidence |\n|---|---|---|---|\n")
	for _, r := range rs {
		ev := r.Evidence
		if r.By != "" {
			ev = r.By + ": " + ev
		}
		id := fmt.Sprint(r.ID)
		if r.From != 0 {
			id += fmt.Sprintf(" (from #%d)", r.From)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", id, cell(r.Text), verdictMark(r.Verdict), cell(ev))
	}
	return b.String()
}

func verdictMark(v string) string {
	if v == Met {
		return "met"
	}
	return "**" + v + "**"
}

// cell keeps a table cell on one line and its pipes from splitting it.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 500 {
		i := 500
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i] + "…"
	}
	return strings.ReplaceAll(s, "|", `\|`)
}
