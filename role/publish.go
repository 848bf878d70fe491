package role

import (
	"context"
	"errors"
	"fmt"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/release"
)

// publisher publishes a release a person approved: it merges the CHANGELOG
// change, tags the released commit (an annotated tag, the notes as its
// message) and records the release (in the forge too when it keeps
// releases). Each step is done once: a retry after a crash finds the merge
// merged, the tag on its commit, the record published, and goes on.
type publisher struct{}

func (publisher) Run(ctx context.Context, d *Deps, r *Run) (Outcome, error) {
	wf, n, bot := d.Workflow, r.Issue.Number, d.Workflow.Tracker.Bot
	rec, ok, err := d.Log.ReleaseOf(ctx, n)
	if err != nil {
		return Outcome{}, err
	}
	if !ok {
		return Outcome{}, Permanent(fmt.Errorf("issue #%d drafted no release: add the release label to draft one", n))
	}
	if !rec.Published {
		if err := mergeChangelog(ctx, d, r, rec); err != nil {
			return Outcome{}, err
		}
		if err := d.Mirror.Fetch(ctx); err != nil {
			return Outcome{}, err
		}
		if err := d.Mirror.Tag(ctx, rec.Tag, rec.Commit, rec.Tag+"\n\n"+rec.Notes, d.Identity); err != nil {
			return Outcome{}, Permanent(err)
		}
		url := ""
		if p, ok := d.Tracker.(agentorg.ReleasePublisher); ok {
			var links []agentorg.Link
			for _, i := range rec.Issues {
				if u := wf.IssueURL(i); u != "" {
					links = append(links, agentorg.Link{Name: fmt.Sprintf("#%d", i), URL: u})
				}
			}
			if url, err = p.PublishRelease(ctx, agentorg.Release{Version: rec.Version, Tag: rec.Tag, Commit: rec.Commit, Name: rec.Tag,
				Notes: rec.Notes, Links: links, At: rec.At}); err != nil {
				return Outcome{}, err
			}
		}
		where := ""
		if url != "" {
			where = " (" + url + ")"
		}
		body := fmt.Sprintf("%s\nReleased %s: the tag is on %.10s%s.", agentorg.Marker(fmt.Sprintf("released:%d", n)), rec.Tag, rec.Commit, where)
		if _, err := d.Tracker.UpsertComment(ctx, n, fmt.Sprintf("released:%d", n), body, bot); err != nil {
			return Outcome{}, err
		}
		if err := d.Log.PublishRelease(ctx, rec.Version, url); err != nil {
			return Outcome{}, err
		}
		reason := fmt.Sprintf("released %s: tagged %.10s, %d issue(s)%s", rec.Tag, rec.Commit, len(rec.Issues), where)
		_ = d.Log.Record(ctx, eventlog.Event{Issue: n, Stage: r.Stage.Name, RunID: r.ID, Actor: bot, Kind: eventlog.KindRelease, Reason: reason,
			Data: map[string]string{"version": rec.Version, "tag": rec.Tag, "commit": rec.Commit, "published": "true"}})
	}
	if len(wf.Environments) == 0 {
		if err := d.Tracker.CloseIssue(ctx, n, bot); err != nil {
			return Outcome{}, err
		}
	}
	return Outcome{Reason: "released " + rec.Tag}, nil
}

// mergeChangelog merges the release's CHANGELOG change exactly as it was
// checked: onto the target's head it was made on. When the target moved
// since, the change is made again on the new head (the notes' section on
// top of its CHANGELOG), checked again, and merged onto that head only.
func mergeChangelog(ctx context.Context, d *Deps, r *Run, rec eventlog.ReleaseRecord) error {
	wf, bot := d.Workflow, d.Workflow.Tracker.Bot
	if d.Guard != nil {
		if err := d.Guard(ctx); err != nil {
			return err
		}
	}
	for try := 0; try < 3; try++ {
		mr, err := d.Tracker.MR(ctx, rec.MR)
		if err != nil {
			return err
		}
		switch mr.State {
		case agentorg.MRMerged:
			return nil
		case agentorg.MROpen:
		default:
			return Permanent(fmt.Errorf("the CHANGELOG change !%d of %s is %s: label the issue release again to draft it anew", mr.Number, rec.Tag, mr.State))
		}
		if err := d.Mirror.Fetch(ctx); err != nil {
			return err
		}
		head, err := d.Mirror.RemoteHead(ctx, mr.TargetBranch)
		if err != nil {
			return err
		}
		parents, err := d.Mirror.Parents(ctx, mr.HeadSHA)
		if err != nil {
			return err
		}
		if len(parents) != 1 || parents[0] != head {
			if mr, err = remakeChangelog(ctx, d, rec, mr, head); err != nil {
				return err
			}
		}
		var merged agentorg.MergeRequest
		if guarded, ok := d.Tracker.(agentorg.TargetGuardedMerger); ok {
			merged, err = guarded.MergeMRAt(ctx, mr.Number, mr.HeadSHA, head, bot)
		} else {
			merged, err = d.Tracker.MergeMR(ctx, mr.Number, mr.HeadSHA, bot)
		}
		if errors.Is(err, agentorg.ErrTargetMoved) || errors.Is(err, agentorg.ErrHeadMoved) {
			continue
		}
		if errors.Is(err, agentorg.ErrConflict) || errors.Is(err, agentorg.ErrNotMergeable) {
			return Permanent(fmt.Errorf("the CHANGELOG change !%d does not merge into %s (%v): label the issue release again to draft it anew", mr.Number, mr.TargetBranch, err))
		}
		if err != nil {
			return err
		}
		_ = d.Log.Record(ctx, eventlog.Event{Issue: r.Issue.Number, Stage: r.Stage.Name, RunID: r.ID, Actor: bot, Kind: eventlog.KindMerge,
			Reason: fmt.Sprintf("merged the CHANGELOG change of %s (!%d) into %s", rec.Tag, mr.Number, merged.TargetBranch),
			Data:   map[string]string{"mr": fmt.Sprint(mr.Number), "merge_sha": merged.MergeSHA}})
		return nil
	}
	return fmt.Errorf("%s kept moving while the CHANGELOG change of %s was merged: tried again later", wf.Repo.TargetBranch, rec.Tag)
}

// remakeChangelog makes the release's CHANGELOG change again on head,
// checks it, and points its merge request there.
func remakeChangelog(ctx context.Context, d *Deps, rec eventlog.ReleaseRecord, mr agentorg.MergeRequest, head string) (agentorg.MergeRequest, error) {
	v, err := release.ParseVersion(rec.Version)
	if err != nil {
		return mr, Permanent(err)
	}
	change, err := commitChangelog(ctx, d, head, mr.SourceBranch, rec.Notes, v, rec.Tag)
	if err != nil {
		return mr, err
	}
	if err := checkChange(ctx, d, change, fmt.Sprintf("the CHANGELOG change of %s made again on %.10s", rec.Tag, head), nil); err != nil {
		return mr, err
	}
	return d.Tracker.SetMRHead(ctx, mr.Number, change)
}
