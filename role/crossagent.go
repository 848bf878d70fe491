package role

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/criteria"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/workflow"
)

// Cross-agent conflict resolution. When a change no longer merges onto a
// target that moved, the conflict is usually with another issue's change,
// merged meanwhile. The developer resolving it is given both intents: for
// each other issue whose merge changed a conflicting file, its plan, its
// acceptance criteria and its merged diff of those files, and the
// conflicting hunks as the merge left them in the worktree. Its resolution
// is then validated against the other issues' command criteria too, on
// the combined tree (the commit to push holds both changes), so that one
// agent's fix never quietly undoes another's.

// Bounds of what the developer's prompt gets, per other issue and in all.
const (
	crossAgentPlanMax  = 4 << 10
	crossAgentDiffMax  = 4 << 10
	crossAgentHunkMax  = 4 << 10  // per conflicting file
	crossAgentHunksMax = 12 << 10 // all files
	// crossAgentWalkMax bounds the walk down the target's history.
	crossAgentWalkMax = 200
)

// resolution is a conflict with the target being resolved: the paths that
// conflicted since the last GO, and the work as it was before the first of
// those conflicts (what the target's merges since are measured from).
type resolution struct {
	from  string
	paths []string
}

// resolving returns the conflict resolution attempt n of an issue belongs
// to: the conflicts found by the attempts before it, back to the last GO
// (a GO ends a resolution; a NO-GO after it, say the resolution dropped the
// other issue's change, continues it). ok is false when there is none.
func resolving(ctx context.Context, d *Deps, issue int64, n int) (res resolution, ok bool, err error) {
	as, err := d.Log.Attempts(ctx, issue)
	if err != nil {
		return res, false, err
	}
	for i := len(as) - 1; i >= 0; i-- {
		p := as[i]
		if p.N >= n {
			continue
		}
		if p.Verdict == eventlog.GO {
			break
		}
		if cs := conflicts(p.Findings); len(cs) > 0 && p.Work() != "" {
			res.from, ok = p.Work(), true
			for _, c := range cs {
				if !slices.Contains(res.paths, c) {
					res.paths = append(res.paths, c)
				}
			}
		}
	}
	slices.Sort(res.paths)
	return res, ok, nil
}

// otherChange is another issue's merge on the target that changed some of
// the conflicting paths.
type otherChange struct {
	issue  agentorg.Issue
	merges [][2]string // (first parent, merge commit), oldest first
	paths  []string    // the conflicting paths its merges changed
}

// mergedSince finds the other issues whose merges on the target changed
// any of paths since from was made: it walks the target's first-parent
// history from tip down to the merge base of from and tip, diffs each
// commit against its first parent, and names the issue whose merge
// request merged as that commit (issueOfMerge). Commits agentorg did not
// merge, and the issue's own, are left out. Oldest first.
func mergedSince(ctx context.Context, d *Deps, own int64, from, tip string, paths []string) ([]otherChange, error) {
	base, err := d.Mirror.MergeBase(ctx, from, tip)
	if err != nil {
		return nil, err
	}
	commits, err := d.Mirror.FirstParents(ctx, tip, crossAgentWalkMax)
	if err != nil {
		return nil, err
	}
	var (
		out   []otherChange
		index = map[int64]int{}
	)
	for _, c := range commits {
		if c == base {
			break
		}
		if below, err := d.Mirror.IsAncestor(ctx, c, base); err != nil {
			return nil, err
		} else if below {
			break // the merge base is on a side line: the walk passed it
		}
		parents, err := d.Mirror.Parents(ctx, c)
		if err != nil {
			return nil, err
		}
		if len(parents) == 0 {
			break
		}
		files, err := d.Mirror.DiffFiles(ctx, parents[0], c)
		if err != nil {
			return nil, err
		}
		var touched []string
		for _, f := range files {
			if slices.Contains(paths, f) {
				touched = append(touched, f)
			}
		}
		if len(touched) == 0 {
			continue
		}
		n, err := issueOfMerge(ctx, d, c)
		if err != nil {
			return nil, err
		}
		if n == 0 || n == own {
			continue
		}
		i, seen := index[n]
		if !seen {
			is, err := d.Tracker.Issue(ctx, n)
			if err != nil {
				return nil, err
			}
			i = len(out)
			index[n] = i
			out = append(out, otherChange{issue: is})
		}
		o := &out[i]
		o.merges = append(o.merges, [2]string{parents[0], c})
		for _, t := range touched {
			if !slices.Contains(o.paths, t) {
				o.paths = append(o.paths, t)
			}
		}
	}
	// The walk went newest first; people read history oldest first.
	slices.Reverse(out)
	for i := range out {
		slices.Reverse(out[i].merges)
		slices.Sort(out[i].paths)
	}
	return out, nil
}

// otherCriteria returns another issue's acceptance criteria (its own, else
// its plan's), each marked as that issue's.
func otherCriteria(ctx context.Context, d *Deps, is agentorg.Issue) ([]criteria.Criterion, string, error) {
	plan, err := Plan(ctx, d.Tracker, is.Number)
	if err != nil {
		return nil, "", err
	}
	crits, _ := criteria.FromIssueOrPlan(is.Body, plan)
	for i := range crits {
		crits[i].From = is.Number
	}
	return crits, plan, nil
}

// crossAgentPrompt is what the developer resolving a conflict is told about
// the other issues: each one's intent and merged change of the conflicting
// files, and the conflicting hunks of the files StartMerge left unmerged
// (hunkFiles) in the worktree at dir. It records an event naming whose
// change this one conflicts with.
func crossAgentPrompt(ctx context.Context, d *Deps, r *Run, attempt int, dir string, hunkFiles []string) ([]workflow.PromptConflict, string, error) {
	n := r.Issue.Number
	res, ok, err := resolving(ctx, d, n, attempt)
	if err != nil || !ok {
		return nil, "", err
	}
	target := d.Workflow.Repo.TargetBranch
	tip, err := d.Mirror.RemoteHead(ctx, target)
	if err != nil {
		return nil, "", err
	}
	others, err := mergedSince(ctx, d, n, res.from, tip, res.paths)
	if err != nil {
		return nil, "", err
	}
	var out []workflow.PromptConflict
	var names []string
	for _, o := range others {
		crits, plan, err := otherCriteria(ctx, d, o.issue)
		if err != nil {
			return nil, "", err
		}
		var diff strings.Builder
		for _, m := range o.merges {
			full, err := d.Mirror.Diff(ctx, m[0], m[1])
			if err != nil {
				return nil, "", err
			}
			diff.WriteString(diffOfPaths(full, o.paths))
		}
		pc := workflow.PromptConflict{Number: o.issue.Number, Title: o.issue.Title, Plan: headTrim(strings.TrimSpace(plan), crossAgentPlanMax),
			Criteria: checklist(crits), Diff: codeBlock("diff", headTrim(strings.TrimRight(diff.String(), "\n"), crossAgentDiffMax))}
		if pc.Plan == "" {
			pc.Plan = "(no plan was posted)"
		}
		out = append(out, pc)
		names = append(names, fmt.Sprintf("#%d (%s)", o.issue.Number, strings.Join(o.paths, ", ")))
	}
	hunks := conflictHunks(dir, hunkFiles)
	if len(names) > 0 {
		_ = d.Log.Record(ctx, eventlog.Event{Issue: n, Stage: r.Stage.Name, RunID: r.ID, Actor: d.Workflow.Tracker.Bot, Kind: eventlog.KindUpdate,
			Reason: fmt.Sprintf("attempt %d resolves a conflict with the change of %s, merged on %s meanwhile: its developer gets both intents", attempt, strings.Join(names, ", "), target),
			Data:   map[string]string{"attempt": fmt.Sprint(attempt), "conflicts_with": issueList(others), "paths": strings.Join(res.paths, " ")}})
	}
	return out, hunks, nil
}

// crossAgentCriteria returns the command criteria of the other issues whose
// merged change attempt n resolved a conflict with, each marked as that
// issue's: validation runs them on the combined tree (base, the target
// the commit to push is written on, holds their change). Judged criteria
// are left to their own issue's validation: they are not this change's
// question, and the judgement cache stays keyed by the issue's own.
func crossAgentCriteria(ctx context.Context, d *Deps, own int64, n int, base string) ([]criteria.Criterion, error) {
	res, ok, err := resolving(ctx, d, own, n)
	if err != nil || !ok {
		return nil, err
	}
	others, err := mergedSince(ctx, d, own, res.from, base, res.paths)
	if err != nil {
		return nil, err
	}
	var out []criteria.Criterion
	for _, o := range others {
		crits, _, err := otherCriteria(ctx, d, o.issue)
		if err != nil {
			return nil, err
		}
		for _, c := range crits {
			if c.Command != "" {
				out = append(out, c)
			}
		}
	}
	return out, nil
}

func issueList(others []otherChange) string {
	var s []string
	for _, o := range others {
		s = append(s, fmt.Sprint(o.issue.Number))
	}
	return strings.Join(s, " ")
}

// checklist renders criteria as the checklist they came from.
func checklist(cs []criteria.Criterion) string {
	if len(cs) == 0 {
		return "(none: neither the issue nor its plan has an \"Acceptance criteria\" checklist)"
	}
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "- [ ] %s", c.Text)
		if c.Command != "" {
			b.WriteString(" (a command: run on the combined tree)")
		}
		b.WriteString("\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// diffOfPaths keeps the sections of a unified diff (as Mirror.Diff writes
// it: no renames, a/ and b/ prefixes) that change one of paths.
func diffOfPaths(diff string, paths []string) string {
	var b strings.Builder
	keep := false
	for _, line := range strings.SplitAfter(diff, "\n") {
		if rest, ok := strings.CutPrefix(line, "diff --git "); ok {
			rest = strings.TrimRight(rest, "\n")
			keep = false
			for _, p := range paths {
				if rest == "a/"+p+" b/"+p {
					keep = true
					break
				}
			}
		}
		if keep {
			b.WriteString(line)
		}
	}
	return b.String()
}

// conflictHunks quotes the conflicting regions (from a "<<<<<<<" line to
// its ">>>>>>>" line) of each file, with their line numbers, bounded per
// file and in all. Only regular files are read: a symbolic link the agent
// left is not followed.
func conflictHunks(dir string, files []string) string {
	var b strings.Builder
	for _, f := range files {
		path := filepath.Join(dir, filepath.FromSlash(f))
		if !strings.HasPrefix(path, filepath.Clean(dir)+string(filepath.Separator)) {
			continue
		}
		fi, err := os.Lstat(path)
		if err != nil || !fi.Mode().IsRegular() {
			fmt.Fprintf(&b, "`%s`: not a regular file in the working tree (deleted on one side?): see `git status`.\n\n", f)
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		regions := markerRegions(string(data))
		if regions == "" {
			fmt.Fprintf(&b, "`%s`: no conflict markers left (a binary file, or resolved already).\n\n", f)
			continue
		}
		fmt.Fprintf(&b, "`%s`:\n\n%s\n\n", f, codeBlock("", headTrim(regions, crossAgentHunkMax)))
	}
	return headTrim(strings.TrimRight(b.String(), "\n"), crossAgentHunksMax)
}

// markerRegions returns the conflict regions of text, each headed by its
// line numbers.
func markerRegions(text string) string {
	lines := strings.Split(text, "\n")
	var b strings.Builder
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "<<<<<<<") {
			continue
		}
		j := i
		for j < len(lines) && !strings.HasPrefix(lines[j], ">>>>>>>") {
			j++
		}
		if j == len(lines) {
			j--
		}
		fmt.Fprintf(&b, "(lines %d-%d)\n%s\n", i+1, j+1, strings.Join(lines[i:j+1], "\n"))
		i = j
	}
	return strings.TrimRight(b.String(), "\n")
}

// codeBlock puts s in a Markdown code block whose fence s does not contain.
func codeBlock(lang, s string) string {
	fence := "```"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	return fence + lang + "\n" + s + "\n" + fence
}
