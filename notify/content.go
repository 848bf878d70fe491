package notify

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/criteria"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/gate"
	"github.com/agentorg/agentorg/role"
	"github.com/agentorg/agentorg/workflow"
)

// plan: the plan's summary and acceptance criteria, the attempts budget.
func (s *story) plan(ctx context.Context, n *Notice) error {
	wf := s.src.Workflow
	g := wf.GateWaiting(s.opening.To)
	n.Mentions = sortedCopy(g.Approvers)
	plan, err := role.Plan(ctx, s.src.Tracker, s.issue.Number)
	if err != nil {
		return err
	}
	version, err := gate.PlanVersion(ctx, s.src.Tracker, s.issue.Number)
	if err != nil {
		return err
	}
	crits, source := criteria.FromIssueOrPlan(s.issue.Body, plan)
	var b strings.Builder
	if sum := summary(plan); sum != "" {
		b.WriteString(sum)
	} else {
		b.WriteString("_The plan comment is missing: the PM may still be writing it._")
	}
	if len(crits) > 0 {
		fmt.Fprintf(&b, "\n\n**Acceptance criteria** (from the %s)\n", source)
		for _, c := range crits {
			mark := ""
			if c.Command != "" {
				mark = " _(run)_"
			}
			fmt.Fprintf(&b, "%d. %s%s\n", c.ID, oneLine(c.Text, 400), mark)
		}
	} else {
		b.WriteString("\n\n**No acceptance criteria**: neither the issue nor the plan has an \"Acceptance criteria\" checklist; the validator can only run the checks.")
	}
	n.Text = strings.TrimRight(b.String(), "\n")
	n.Fields = append(n.Fields,
		Field{Name: "Gate", Value: fmt.Sprintf("%s (`%s`)", g.Name, g.Waits), Inline: true},
		Field{Name: "Criteria", Value: fmt.Sprintf("%d (%d run as commands)", len(crits), countCommands(crits)), Inline: true},
		Field{Name: "Budget", Value: budget(wf.Budget), Inline: true},
		Field{Name: "Approvers", Value: g.Allowed(), Inline: true},
	)
	if version != "" {
		n.Fields = append(n.Fields, Field{Name: "Plan version", Value: "`" + version + "`", Inline: true})
	}
	n.Fields = append(n.Fields, Field{Name: "How to decide", Value: howTo(wf, g, s.issue.Number)})
	if s.gateStatus(n, g, "plan", "plan") {
		n.Ask = &Ask{Gate: g.Name, Plan: version}
	}
	return nil
}

// mergeRequest: the change's size, the last validation (checks, criteria,
// distances), review rounds and threads, the head, a pending automatic
// approval.
func (s *story) mergeRequest(ctx context.Context, n *Notice) error {
	wf := s.src.Workflow
	g := wf.GateWaiting(s.opening.To)
	n.Mentions = sortedCopy(g.Approvers)
	as, err := s.src.Log.Attempts(ctx, s.issue.Number)
	if err != nil {
		return err
	}
	last, validated := lastValidated(as)
	head := ""
	if s.mr != nil {
		head = s.mr.HeadSHA
	}
	var b strings.Builder
	if s.mr != nil {
		fmt.Fprintf(&b, "Merge request **!%d** %s → `%s` at `%s`", s.mr.Number, "`"+s.mr.SourceBranch+"`", s.mr.TargetBranch, short(head))
	} else {
		b.WriteString("_No merge request found for the issue's branch._")
	}
	if validated {
		fmt.Fprintf(&b, "\nValidated **%s** at attempt %d (distance %d)", last.Verdict, last.N, last.Distance)
		if head != "" && last.CommitSHA != "" && last.CommitSHA != head {
			fmt.Fprintf(&b, " at `%s`, which is not the merge request's head", short(last.CommitSHA))
		}
		b.WriteString(".")
	}
	crs := reportCriteria(last.Report)
	if len(crs) > 0 {
		b.WriteString("\n\n**Acceptance criteria**\n")
		for _, c := range crs {
			fmt.Fprintf(&b, "%s %s. %s\n", verdictIcon(c.verdict), c.id, oneLine(c.text, 300))
		}
	}
	if unmet := unmetFindings(last); len(unmet) > 0 {
		b.WriteString("\n**Findings**\n")
		for _, f := range unmet {
			fmt.Fprintf(&b, "- %s\n", oneLine(firstLine(f.Text), 300))
		}
	}
	n.Text = strings.TrimRight(b.String(), "\n")

	size := "not recorded"
	if files, ok := reportFiles(last.Report); ok {
		size = plural(files, "file") + " changed (line counts are not recorded)"
	}
	n.Fields = append(n.Fields, Field{Name: "Size", Value: size, Inline: true})
	if head != "" {
		n.Fields = append(n.Fields, Field{Name: "Head", Value: "`" + short(head) + "`", Inline: true})
	}
	n.Fields = append(n.Fields, Field{Name: "Distance per attempt", Value: distances(as), Inline: true})
	checks, err := s.checks(ctx, head, last)
	if err != nil {
		return err
	}
	n.Fields = append(n.Fields, Field{Name: "Checks", Value: checks})
	if len(crs) > 0 {
		met := 0
		for _, c := range crs {
			if c.verdict == criteria.Met {
				met++
			}
		}
		n.Fields = append(n.Fields, Field{Name: "Criteria", Value: fmt.Sprintf("%d of %d met", met, len(crs)), Inline: true})
	}
	review, err := s.review(ctx)
	if err != nil {
		return err
	}
	n.Fields = append(n.Fields, Field{Name: "Review", Value: review, Inline: true})
	if g.AutoApprove != nil {
		n.Fields = append(n.Fields, Field{Name: "Automatic approval", Value: s.policy(g, head)})
	}
	n.Fields = append(n.Fields, Field{Name: "Approvers", Value: g.Allowed(), Inline: true},
		Field{Name: "How to decide", Value: howTo(wf, g, s.issue.Number)})
	if s.gateStatus(n, g, "merge request", "merge request head") && head != "" {
		n.Ask = &Ask{Gate: g.Name, Head: head}
	}
	return nil
}

// checks lists the check results at the head (else at the validated
// commit), E2E's left out: "✅ test · ❌ lint".
func (s *story) checks(ctx context.Context, head string, last eventlog.Attempt) (string, error) {
	for _, sha := range []string{head, last.CommitSHA} {
		if sha == "" {
			continue
		}
		cs, err := s.src.Tracker.Checks(ctx, sha)
		if err != nil {
			return "", err
		}
		var out []string
		for _, c := range cs {
			if c.Name == "e2e" || c.Name == "e2e-rerun" {
				continue
			}
			mark := "✅"
			if c.Status != agentorg.CheckPassed {
				mark = "❌"
			}
			out = append(out, mark+" "+c.Name)
		}
		if len(out) > 0 {
			slices.Sort(out)
			return strings.Join(out, " · "), nil
		}
	}
	return "none recorded", nil
}

// review says how many review rounds the merge request went through and
// how many of its threads are open.
func (s *story) review(ctx context.Context) (string, error) {
	rounds, err := s.src.Log.Rounds(ctx, s.issue.Number)
	if err != nil {
		return "", err
	}
	out := plural(len(rounds), "round")
	if rt, ok := s.src.Tracker.(agentorg.ReviewThreads); ok && s.mr != nil {
		ths, err := rt.Threads(ctx, s.mr.Number)
		if err != nil {
			return "", err
		}
		open := 0
		for _, t := range ths {
			if !t.Resolved {
				open++
			}
		}
		out += fmt.Sprintf(", %d open of %s", open, plural(len(ths), "thread"))
	}
	return out, nil
}

// policy says what the gate's automatic approval makes of the head: the
// newest policy event of the gate at that head.
func (s *story) policy(g *workflow.Gate, head string) string {
	for i := len(s.events) - 1; i >= 0; i-- {
		e := s.events[i]
		if e.Kind != eventlog.KindPolicy || e.Data["gate"] != g.Name || e.Data["head"] != head {
			continue
		}
		switch e.Data["state"] {
		case "pending":
			due := e.Data["due"]
			if t, err := parseTime(due); err == nil {
				due = stamp(t)
			}
			return fmt.Sprintf("rule `%s` approves at %s unless a person rejects the change or opens a review thread before", e.Data["rule"], due)
		case "approved":
			return fmt.Sprintf("approved by rule `%s` at %s", e.Data["rule"], stamp(e.At))
		case "cancelled":
			return "cancelled: " + oneLine(e.Reason, 300)
		}
	}
	for i := len(s.events) - 1; i >= 0; i-- {
		if e := s.events[i]; e.Stage == workflow.AutoApproveStage(g.Name) && e.Kind == eventlog.KindWait {
			return oneLine(e.Reason, 300)
		}
	}
	return "no rule has matched this head"
}

// escalation: the reason, the attempts with their distances, the findings
// that came back, where to read the transcripts.
func (s *story) escalation(ctx context.Context, n *Notice) error {
	wf := s.src.Workflow
	n.Title = s.title("needs a human")
	n.Mentions = allApprovers(wf)
	as, err := s.src.Log.Attempts(ctx, s.issue.Number)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**Why:** %s", strings.TrimSpace(s.opening.Reason))
	if s.opening.Stage != "" {
		fmt.Fprintf(&b, "\n**Stage:** %s", s.opening.Stage)
	}
	if rep := repeated(as); len(rep) > 0 {
		b.WriteString("\n\n**Findings that came back**\n")
		for _, f := range rep {
			fmt.Fprintf(&b, "- %s\n", oneLine(firstLine(f.Text), 300))
		}
	} else if last, ok := lastValidated(as); ok && len(last.Findings) > 0 {
		b.WriteString("\n\n**Last findings**\n")
		for _, f := range last.Findings {
			fmt.Fprintf(&b, "- %s\n", oneLine(firstLine(f.Text), 300))
		}
	}
	fmt.Fprintf(&b, "\nTranscripts: `agentorg logs --issue %d`", s.issue.Number)
	n.Text = strings.TrimSpace(b.String())
	if len(as) > 0 {
		var lines []string
		for _, a := range as {
			lines = append(lines, attemptLine(a))
		}
		n.Fields = append(n.Fields, Field{Name: "Attempts", Value: strings.Join(lines, "\n")},
			Field{Name: "Distance per attempt", Value: distances(as), Inline: true})
	}
	n.Fields = append(n.Fields, Field{Name: "Escalated", Value: stamp(s.opening.At), Inline: true},
		Field{Name: "Budget", Value: budget(wf.Budget), Inline: true})
	if later, ok := s.superseded(); ok {
		n.Status = fmt.Sprintf("escalated again at %s · %s", stamp(later.At), s.where())
		n.Color, n.Closed = ColorMoot, true
		return nil
	}
	if s.issue.State == agentorg.IssueOpen && s.issue.HasLabel(wf.Escalation) {
		n.Status = fmt.Sprintf("waits for a person at `%s` since %s", wf.Escalation, stamp(s.opening.At))
		n.Color = ColorFailed
		return nil
	}
	n.Status = s.handedBack(wf.Escalation) + s.where()
	n.Color, n.Closed = ColorDone, true
	return nil
}

// handedBack names who took the issue off label after the opening event:
// "alice moved it at 2026-… · ", or "".
func (s *story) handedBack(label string) string {
	for _, e := range s.later {
		if e.Kind == eventlog.KindHuman && (e.From == label || strings.Contains(e.Reason, label)) {
			return fmt.Sprintf("%s took it on at %s · ", e.Actor, stamp(e.At))
		}
	}
	return ""
}

// e2e: what failed on the target, the culprit, what recovery does.
func (s *story) e2e(ctx context.Context, n *Notice) error {
	wf := s.src.Workflow
	n.Mentions = allApprovers(wf)
	branch := wf.Repo.TargetBranch
	if b := s.opening.Data["target"]; b != "" {
		branch = b
	}
	head := s.opening.Data["head"]
	n.Title = s.title(fmt.Sprintf("E2E failed on %s", branch))
	var b strings.Builder
	fmt.Fprintf(&b, "`%s` failed on `%s`", wf.E2E.Run, branch)
	if head != "" {
		fmt.Fprintf(&b, " at `%s`", short(head))
	}
	fmt.Fprintf(&b, ".\n%s", strings.TrimSpace(s.opening.Reason))
	if head != "" {
		out, err := s.e2eOutput(ctx, head)
		if err != nil {
			return err
		}
		if out != "" {
			fmt.Fprintf(&b, "\n\n```\n%s\n```", out)
		}
	}
	n.Text = b.String()

	t, err := s.src.Log.Target(ctx, branch)
	if err != nil {
		return err
	}
	same := head != "" && t.RedSHA == head // the target's record is this failure's
	culprit := "not known yet"
	for _, e := range s.later {
		if e.Kind == eventlog.KindRecover && strings.HasPrefix(e.Reason, "bisect: ") {
			culprit = oneLine(strings.TrimPrefix(e.Reason, "bisect: "), 600)
			break
		}
	}
	if culprit == "not known yet" && same && t.Bisected {
		culprit = oneLine(t.Reason, 600)
	}
	n.Fields = append(n.Fields, Field{Name: "Culprit", Value: culprit})
	n.Fields = append(n.Fields, Field{Name: "Recovery", Value: recovery(wf, t, same)})
	n.Fields = append(n.Fields, Field{Name: "Failed", Value: stamp(s.opening.At), Inline: true})
	if head == "" {
		// Recovery off: the E2E stage's failure label is the end of it.
		if s.issue.State == agentorg.IssueOpen && s.place.Label == s.opening.To {
			n.Status = fmt.Sprintf("waits for a person at `%s` since %s", s.opening.To, stamp(s.opening.At))
			n.Color = ColorFailed
			return nil
		}
		n.Status = s.handedBack(s.opening.To) + s.where()
		n.Color, n.Closed = ColorDone, true
		return nil
	}
	if same && t.Closed {
		n.Status = fmt.Sprintf("%s closed since %s", branch, stamp(t.Since))
		if t.RevertIssue != 0 {
			n.Status += fmt.Sprintf(" · revert #%d on its way", t.RevertIssue)
		}
		n.Color = ColorFailed
		return nil
	}
	n.Status = fmt.Sprintf("%s open again", branch)
	if !same && t.Closed {
		n.Status = fmt.Sprintf("%s recovered, then closed again at %s", branch, stamp(t.Since))
	} else if !t.Since.IsZero() {
		n.Status += fmt.Sprintf(" since %s (%s)", stamp(t.Since), oneLine(t.Reason, 200))
	}
	n.Color, n.Closed = ColorDone, true
	return nil
}

// e2eOutput is the tail of the failed E2E output recorded at head.
func (s *story) e2eOutput(ctx context.Context, head string) (string, error) {
	cs, err := s.src.Tracker.Checks(ctx, head)
	if err != nil {
		return "", err
	}
	var out string
	for _, c := range cs {
		if c.Status != agentorg.CheckPassed && (c.Name == "e2e-rerun" || (c.Name == "e2e" && out == "")) {
			out = c.Output
		}
	}
	return lastLines(strings.TrimRight(out, "\n"), 15), nil
}

// recovery says what E2E recovery does about the failure.
func recovery(wf *workflow.Workflow, t eventlog.Target, same bool) string {
	switch wf.E2E.Recovery {
	case workflow.RecoveryOff:
		return "off: nothing is done by itself; a person looks"
	case workflow.RecoveryClose:
		s := fmt.Sprintf("close: only a fix lands on %s until E2E passes again", wf.Repo.TargetBranch)
		if same && t.CulpritIssue != 0 {
			s += fmt.Sprintf("; #%d goes back to its developer to fix it", t.CulpritIssue)
		}
		return s
	}
	s := fmt.Sprintf("revert: only the recovery's changes land on %s until E2E passes again", wf.Repo.TargetBranch)
	if same && t.CulpritIssue != 0 {
		if t.RevertIssue != 0 {
			s += fmt.Sprintf("; #%d reverts #%d (`%s`)", t.RevertIssue, t.CulpritIssue, short(t.Culprit))
		}
		s += fmt.Sprintf("; #%d goes back to its developer once the revert merged", t.CulpritIssue)
	}
	return s
}

// lastValidated is the newest attempt with a verdict.
func lastValidated(as []eventlog.Attempt) (eventlog.Attempt, bool) {
	for i := len(as) - 1; i >= 0; i-- {
		if as[i].Verdict != "" {
			return as[i], true
		}
	}
	return eventlog.Attempt{}, false
}

// unmetFindings are an attempt's counted findings.
func unmetFindings(a eventlog.Attempt) []eventlog.Finding {
	var out []eventlog.Finding
	for _, f := range a.Findings {
		if !f.Target {
			out = append(out, f)
		}
	}
	return out
}

// repeated are the findings of the newest validated attempt that an
// earlier attempt had too: what the developer did not manage to fix.
func repeated(as []eventlog.Attempt) []eventlog.Finding {
	last, ok := lastValidated(as)
	if !ok {
		return nil
	}
	seen := map[string]bool{}
	for _, a := range as {
		if a.N < last.N {
			for _, k := range a.FindingKeys() {
				seen[k] = true
			}
		}
	}
	var out []eventlog.Finding
	for _, f := range unmetFindings(last) {
		if seen[f.Key] {
			out = append(out, f)
		}
	}
	return out
}

// distances are the validated attempts' distances: "3 → 1 → 0".
func distances(as []eventlog.Attempt) string {
	var ds []string
	for _, a := range as {
		if a.Verdict != "" {
			ds = append(ds, strconv.Itoa(a.Distance))
		}
	}
	if len(ds) == 0 {
		return "not validated yet"
	}
	return strings.Join(ds, " → ")
}

// attemptLine is one attempt: "2: NO-GO, distance 1 (`abc1234567`)".
func attemptLine(a eventlog.Attempt) string {
	var s string
	switch {
	case a.Failed():
		s = fmt.Sprintf("%d: %s", a.N, oneLine(a.Summary, 200))
	case a.Verdict == "":
		s = fmt.Sprintf("%d: not validated", a.N)
	default:
		s = fmt.Sprintf("%d: %s, distance %d", a.N, a.Verdict, a.Distance)
	}
	if a.CommitSHA != "" {
		s += " (`" + short(a.CommitSHA) + "`)"
	}
	return s
}

// budget says what the workflow allows an issue.
func budget(b workflow.Budget) string {
	parts := []string{plural(b.Attempts, "attempt")}
	if b.StallAttempts > 0 {
		parts = append(parts, fmt.Sprintf("escalates after %s without progress", plural(b.StallAttempts, "attempt")))
	}
	if b.Tokens > 0 {
		parts = append(parts, fmt.Sprintf("%d tokens", b.Tokens))
	}
	if b.CostUSD > 0 {
		parts = append(parts, fmt.Sprintf("$%.2f", b.CostUSD))
	}
	if b.WallTime > 0 {
		parts = append(parts, b.WallTime.String())
	}
	return strings.Join(parts, ", ")
}

// howTo says how to decide at gate g outside the chat.
func howTo(wf *workflow.Workflow, g *workflow.Gate, n int64) string {
	s := wf.HowToApprove(g, n)
	if wf.Tracker.Kind != workflow.TrackerGitLab {
		s += fmt.Sprintf("; reject with `agentorg reject %d --reason \"…\"`", n)
	}
	return s
}

func countCommands(cs []criteria.Criterion) int {
	k := 0
	for _, c := range cs {
		if c.Command != "" {
			k++
		}
	}
	return k
}

// reportCriterion is a row of a validation report's criteria table.
type reportCriterion struct{ id, text, verdict string }

var (
	filesRE   = regexp.MustCompile(`; (\d+) file\(s\) changed`)
	critRowRE = regexp.MustCompile(`^\| ([^|]+) \| (.*) \| (met|\*\*unmet\*\*|\*\*unclear\*\*|\*\*[a-z]+\*\*) \| `)
)

// reportFiles is the number of files the validated change touched, as its
// validation report says.
func reportFiles(report string) (int, bool) {
	m := filesRE.FindStringSubmatch(report)
	if m == nil {
		return 0, false
	}
	k, err := strconv.Atoi(m[1])
	return k, err == nil
}

// reportCriteria reads the verdicts of the issue's own criteria from a
// validation report's first criteria table (criteria.Table's rows).
func reportCriteria(report string) []reportCriterion {
	var out []reportCriterion
	in := false
	for _, line := range strings.Split(report, "\n") {
		switch {
		case strings.HasPrefix(line, "### Acceptance criteria (from"):
			in = true
			continue
		case strings.HasPrefix(line, "###"):
			if in {
				return out
			}
		}
		if !in {
			continue
		}
		if m := critRowRE.FindStringSubmatch(line); m != nil {
			out = append(out, reportCriterion{id: strings.TrimSpace(m[1]), text: strings.ReplaceAll(m[2], `\|`, "|"), verdict: strings.Trim(m[3], "*")})
		}
	}
	return out
}

func verdictIcon(v string) string {
	switch v {
	case criteria.Met:
		return "✅"
	case criteria.Unmet:
		return "❌"
	}
	return "❔"
}
