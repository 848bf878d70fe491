package role

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/release"
	"github.com/agentorg/agentorg/workflow"
)

// The release stage (issue 18): on an issue labelled for a release it
// gathers what merged into the target since the last release up to the
// newest commit E2E passed on, has the release agent (read-only) write the
// notes and propose a version, checks the version itself (semantic
// versioning from the merged issues' kinds), commits the CHANGELOG change
// on a branch of its own, opens its merge request, runs the checks on it,
// and records the draft. The release gate then waits for a person; the
// publish stage merges, tags and records it.
type releaser struct{}

// ReleaseBranch is the branch of a release's CHANGELOG change.
func ReleaseBranch(tag string) string { return "agentorg/release-" + tag }

func (releaser) Run(ctx context.Context, d *Deps, r *Run) (Outcome, error) {
	wf, n := d.Workflow, r.Issue.Number
	rc := wf.Release
	if rc == nil {
		return Outcome{}, Permanent(errors.New("the workflow has no release section"))
	}
	first, err := release.ParseVersion(rc.FirstVersion)
	if err != nil {
		return Outcome{}, Permanent(fmt.Errorf("release.first_version: %w", err))
	}
	if err := d.Mirror.Fetch(ctx); err != nil {
		return Outcome{}, err
	}
	target := wf.Repo.TargetBranch
	head, err := d.Mirror.RemoteHead(ctx, target)
	if err != nil {
		return Outcome{}, err
	}
	prev, prevCommit, err := lastRelease(ctx, d)
	if err != nil {
		return Outcome{}, err
	}
	since := "the start"
	if prev != nil {
		since = prev.Tag(rc.TagPrefix)
	}
	commit, err := releasableCommit(ctx, d, head, prevCommit)
	if err != nil {
		return Outcome{}, err
	}
	if commit == "" {
		return Outcome{}, Permanent(fmt.Errorf("no commit of %s passed E2E since %s: only a commit whose E2E passed is released", target, since))
	}
	items, err := releaseItems(ctx, d, commit, prevCommit)
	if err != nil {
		return Outcome{}, err
	}
	if len(items) == 0 {
		return Outcome{}, Permanent(fmt.Errorf("nothing merged into %s since %s up to %.10s (the newest commit E2E passed on): nothing to release", target, since, commit))
	}

	// The release agent writes the notes, read-only, in a checkout of the
	// released commit.
	ag, def, err := d.agent(r)
	if err != nil {
		return Outcome{}, err
	}
	dir, releaseDir, err := d.checkout(ctx, commit)
	if err != nil {
		return Outcome{}, err
	}
	defer releaseDir()
	tr, err := d.openTranscript(r.ID)
	if err != nil {
		return Outcome{}, err
	}
	defer tr.Close()
	prompt, err := releasePrompt(ctx, d, n, items, prev, rc.TagPrefix)
	if err != nil {
		return Outcome{}, err
	}
	began := time.Now()
	res, err := ag.Start(ctx, agentorg.Task{
		Role: r.Stage.Role, Issue: n, Dir: dir, Prompt: prompt,
		Access: agentorg.ReadOnly, Env: d.AgentEnv(def), Transcript: tr,
		Timeout: def.Timeout, StallTimeout: def.StallTimeout, OnStart: r.OnStart,
		Confine: d.confine(def, dir, agentorg.ReadOnly),
	})
	external := time.Since(began)
	if err != nil {
		if errors.Is(err, agentorg.ErrAgent) {
			recordAgentRun(ctx, d, r, def.Name, res, "release notes failed: "+oneLine(err.Error()), map[string]string{"failed": "true"})
		}
		return Outcome{}, err
	}
	answer, err := release.ParseAnswer(res.Summary)
	if err != nil {
		recordAgentRun(ctx, d, r, def.Name, res, "release notes unreadable: "+oneLine(err.Error()), map[string]string{"failed": "true"})
		return Outcome{}, fmt.Errorf("%w: the release agent's answer: %v", agentorg.ErrAgent, err)
	}
	if err := recordAgentRun(ctx, d, r, def.Name, res, "wrote the release notes", nil); err != nil {
		return Outcome{}, err
	}
	items = answer.Apply(items)
	version, correction := release.Check(answer.Version, prev, items, first)
	tag := version.Tag(rc.TagPrefix)
	if done, ok, err := d.Log.Release(ctx, version.String()); err != nil {
		return Outcome{}, err
	} else if ok && done.Published {
		return Outcome{}, Permanent(fmt.Errorf("%s is released already (issue #%d)", tag, done.Issue))
	}
	notes := release.Notes{Version: version, TagPrefix: rc.TagPrefix, Date: time.Now().UTC(), Summary: answer.Summary, Items: items, Correction: correction}
	section := notes.Markdown()

	// The CHANGELOG change, on the target's head, through a merge request
	// like any change.
	branch := ReleaseBranch(tag)
	change, err := commitChangelog(ctx, d, head, branch, section, version, tag)
	if err != nil {
		return Outcome{}, err
	}
	mr, err := releaseMR(ctx, d, n, tag, branch, change, section)
	if err != nil {
		return Outcome{}, err
	}
	fmt.Fprintf(tr, "== checks on the CHANGELOG change %.10s\n", change)
	if err := checkChange(ctx, d, change, fmt.Sprintf("the release's CHANGELOG change !%d (%.10s)", mr.Number, change), tr); err != nil {
		return Outcome{}, err
	}
	var numbers []int64
	for _, it := range items {
		numbers = append(numbers, it.Issue)
	}
	if err := d.Log.DraftRelease(ctx, eventlog.ReleaseRecord{Version: version.String(), Tag: tag, Commit: commit, Issue: n,
		Notes: section, Issues: numbers, MR: mr.Number, Correction: correction}); err != nil {
		return Outcome{}, err
	}
	body := fmt.Sprintf("%s\n## Release %s\n\nReleases %.10s (E2E passed there) with %d merged issue(s); the CHANGELOG change is !%d.\n\n%s",
		agentorg.Marker(agentorg.ReleaseNotesKey(n)), tag, commit, len(items), mr.Number, section)
	if correction != "" {
		body += "\n\n> agentorg corrected the version: " + correction
	}
	body += fmt.Sprintf("\n\nApprove with `agentorg approve %d`; reject with `agentorg reject %d --reason \"…\"`.", n, n)
	if _, err := d.Tracker.UpsertComment(ctx, n, agentorg.ReleaseNotesKey(n), body, wf.Tracker.Bot); err != nil {
		return Outcome{}, err
	}
	reason := fmt.Sprintf("drafted %s: %d merged issue(s) up to %.10s (E2E passed), notes and CHANGELOG in !%d", tag, len(items), commit, mr.Number)
	data := map[string]string{"version": version.String(), "tag": tag, "commit": commit, "mr": fmt.Sprint(mr.Number)}
	if correction != "" {
		data["correction"] = correction
		reason += "; version corrected: " + correction
	}
	_ = d.Log.Record(ctx, eventlog.Event{Issue: n, Stage: r.Stage.Name, RunID: r.ID, Actor: wf.Tracker.Bot, Kind: eventlog.KindRelease, Reason: reason, Data: data})
	return Outcome{Reason: reason, External: external}, nil
}

// lastRelease is the newest published release's version and commit (nil
// and "" when nothing was released yet).
func lastRelease(ctx context.Context, d *Deps) (*release.Version, string, error) {
	rs, err := d.Log.Releases(ctx)
	if err != nil {
		return nil, "", err
	}
	var best *release.Version
	commit := ""
	for _, r := range rs {
		if !r.Published {
			continue
		}
		v, err := release.ParseVersion(r.Version)
		if err != nil {
			continue
		}
		if best == nil || best.Less(v) {
			best, commit = &v, r.Commit
		}
	}
	return best, commit, nil
}

// releaseLookBack bounds how far back from the target's head a release
// looks for a commit E2E passed on: each look is a read of the tracker's
// check results (on GitLab, a request), and E2E runs after every merge.
const releaseLookBack = 200

// releasableCommit is the newest first-parent commit of head, after prev
// ("" for none), whose E2E passed ("" when none did in releaseLookBack).
func releasableCommit(ctx context.Context, d *Deps, head, prev string) (string, error) {
	shas, err := d.Mirror.FirstParents(ctx, head, releaseLookBack)
	if err != nil {
		return "", err
	}
	for _, sha := range shas {
		if sha == prev {
			return "", nil
		}
		res, err := d.Tracker.Checks(ctx, sha)
		if err != nil {
			return "", err
		}
		for _, c := range res {
			if c.Name == e2eCheck && c.Status == agentorg.CheckPassed {
				return sha, nil
			}
		}
	}
	return "", nil
}

// releaseItems lists the issues whose merge requests merged into the
// target's first-parent history after prev, up to commit, as release items.
func releaseItems(ctx context.Context, d *Deps, commit, prev string) ([]release.Item, error) {
	shas, err := d.Mirror.FirstParents(ctx, commit, 10000)
	if err != nil {
		return nil, err
	}
	in := map[string]bool{}
	for _, s := range shas {
		if s == prev {
			break
		}
		in[s] = true
	}
	mrs, err := d.Tracker.ListMRs(ctx, agentorg.MRFilter{State: agentorg.MRMerged})
	if err != nil {
		return nil, err
	}
	var items []release.Item
	for _, mr := range mrs {
		if mr.TargetBranch != d.Workflow.Repo.TargetBranch || !in[mr.MergeSHA] || mr.Issue == 0 || strings.HasPrefix(mr.SourceBranch, ReleaseBranch("")) {
			continue
		}
		is, err := d.Tracker.Issue(ctx, mr.Issue)
		if err != nil {
			return nil, err
		}
		items = append(items, release.Item{Issue: is.Number, Title: is.Title, Kind: release.KindOf(is.Title, is.Body, is.Labels),
			IssueURL: d.Workflow.IssueURL(is.Number), MR: mr.Number, MRURL: d.Workflow.MRURL(mr.Number)})
	}
	slices.SortFunc(items, func(a, b release.Item) int { return int(a.Issue - b.Issue) })
	return items, nil
}

// releaseMR opens the merge request of the CHANGELOG change, or brings the
// one a retry finds open to the new head.
func releaseMR(ctx context.Context, d *Deps, n int64, tag, branch, head, notes string) (agentorg.MergeRequest, error) {
	mrs, err := d.Tracker.ListMRs(ctx, agentorg.MRFilter{State: agentorg.MROpen, SourceBranch: branch})
	if err != nil {
		return agentorg.MergeRequest{}, err
	}
	if len(mrs) > 0 {
		if mrs[0].HeadSHA == head {
			return mrs[0], nil
		}
		return d.Tracker.SetMRHead(ctx, mrs[0].Number, head)
	}
	return d.Tracker.CreateMR(ctx, agentorg.NewMR{Issue: n, Title: "Release " + tag, Description: notes,
		SourceBranch: branch, TargetBranch: d.Workflow.Repo.TargetBranch, HeadSHA: head, Author: d.Workflow.Tracker.Bot})
}

// releasePrompt asks the release agent for the notes' summary and a
// version, given the merged issues with their plans.
func releasePrompt(ctx context.Context, d *Deps, n int64, items []release.Item, prev *release.Version, prefix string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "You are the release agent of an engineering organization. Write the release notes for release issue #%d.\n\n", n)
	if prev != nil {
		fmt.Fprintf(&b, "The last release is %s.\n", prev.Tag(prefix))
	} else {
		b.WriteString("Nothing was released before.\n")
	}
	b.WriteString("These issues merged since, with the kind agentorg read from their labels and titles:\n\n")
	for _, it := range items {
		fmt.Fprintf(&b, "### #%d %s (merge request !%d, kind: %s)\n\n", it.Issue, it.Title, it.MR, it.Kind)
		plan, err := Plan(ctx, d.Tracker, it.Issue)
		if err != nil {
			return "", err
		}
		if plan = strings.TrimSpace(plan); plan != "" {
			b.WriteString(headTrim(plan, 2000) + "\n\n")
		}
	}
	b.WriteString("Read the code if you need to (you may not change it). Write a summary of what the release brings for its users; agentorg writes the list of changes itself. A breaking change bumps MAJOR, a feature MINOR, a fix PATCH.\n\n")
	b.WriteString(release.AnswerFormat + "\n")
	return b.String(), nil
}

// ScheduledRelease opens a release issue when the workflow's
// release.schedule has passed since the last release (or nothing was
// released yet), no release is in progress, and a commit whose E2E passed
// carries merged issues not released yet. It returns the issue it opened
// (0: none was due).
func ScheduledRelease(ctx context.Context, d *Deps, now time.Time) (int64, error) {
	wf := d.Workflow
	if wf.Release == nil || wf.Release.Schedule <= 0 {
		return 0, nil
	}
	rs, err := d.Log.Releases(ctx)
	if err != nil {
		return 0, err
	}
	for _, r := range rs {
		if r.Published && now.Sub(r.PublishedAt) < wf.Release.Schedule {
			return 0, nil
		}
	}
	busy, err := d.Tracker.ListIssues(ctx, agentorg.IssueFilter{State: agentorg.IssueOpen, AnyLabel: workflow.ReleasingLabels})
	if err != nil || len(busy) > 0 {
		return 0, err
	}
	if err := d.Mirror.Fetch(ctx); err != nil {
		return 0, err
	}
	head, err := d.Mirror.RemoteHead(ctx, wf.Repo.TargetBranch)
	if err != nil {
		return 0, err
	}
	_, prevCommit, err := lastRelease(ctx, d)
	if err != nil {
		return 0, err
	}
	commit, err := releasableCommit(ctx, d, head, prevCommit)
	if err != nil || commit == "" {
		return 0, err
	}
	items, err := releaseItems(ctx, d, commit, prevCommit)
	if err != nil || len(items) == 0 {
		return 0, err
	}
	bot := wf.Tracker.Bot
	is, err := d.Tracker.CreateIssue(ctx, agentorg.NewIssue{Title: "Release (scheduled)", Author: bot,
		Body: fmt.Sprintf("A release on the workflow's schedule (every %s): %d merged issue(s) wait to be released.", wf.Release.Schedule, len(items))})
	if err != nil {
		return 0, err
	}
	if _, err := d.Tracker.UpdateLabels(ctx, is.Number, []string{workflow.LabelRelease}, nil, bot); err != nil {
		return is.Number, err
	}
	_ = d.Log.Record(ctx, eventlog.Event{Issue: is.Number, Actor: bot, Kind: eventlog.KindTransition, To: workflow.LabelRelease,
		Reason: fmt.Sprintf("release.schedule (every %s): %d merged issue(s) not released", wf.Release.Schedule, len(items))})
	return is.Number, nil
}

// commitChangelog makes the release's CHANGELOG change on head (section on
// top of the file there) and pushes it to branch.
func commitChangelog(ctx context.Context, d *Deps, head, branch, section string, v release.Version, tag string) (string, error) {
	rc := d.Workflow.Release
	old, _, err := d.Mirror.ReadFile(ctx, head, rc.Changelog)
	if err != nil {
		return "", err
	}
	change, err := d.Mirror.CommitFile(ctx, head, rc.Changelog, release.UpdateChangelog(old, section, v, rc.TagPrefix),
		"Release "+tag+"\n\n"+section, d.Identity)
	if err != nil {
		return "", err
	}
	return change, d.Mirror.Push(ctx, change, branch)
}

// checkChange runs the workflow's checks on commit: a failing one is a
// permanent refusal of what (the change named in the message).
func checkChange(ctx context.Context, d *Deps, commit, what string, log io.Writer) error {
	checks, err := Baseline(ctx, d, commit, "", log)
	if err != nil {
		return err
	}
	for _, c := range checks {
		if !c.Passed {
			return Permanent(fmt.Errorf("check %s fails on %s: %s", c.Name, what, oneLine(c.Reason)))
		}
	}
	return nil
}
