package human

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
)

// errNoThreads says the tracker keeps no review threads.
var errNoThreads = errors.New("this tracker keeps no review threads on merge requests")

func (d *Desk) threads() (agentorg.ReviewThreads, error) {
	rt, ok := d.Tracker.(agentorg.ReviewThreads)
	if !ok {
		return nil, errNoThreads
	}
	return rt, nil
}

// Comment opens a review thread on merge request mr as user, on a line of
// a file of the change when path is set. Whether it is acted on is the
// workflow's call (gates.*.reviewers), not the desk's: anyone may comment.
func (d *Desk) Comment(ctx context.Context, mr int64, user, path string, line int, body string) (agentorg.ReviewThread, error) {
	rt, err := d.threads()
	if err != nil {
		return agentorg.ReviewThread{}, err
	}
	m, err := d.Tracker.MR(ctx, mr)
	if err != nil {
		return agentorg.ReviewThread{}, err
	}
	th, err := rt.StartThread(ctx, mr, agentorg.NewReviewThread{Body: body, Author: user, Path: path, Line: line})
	if err != nil {
		return th, err
	}
	where := "the merge request"
	if path != "" {
		where = fmt.Sprintf("%s:%d", path, line)
	}
	return th, d.record(ctx, eventlog.Event{Issue: m.Issue, Actor: user, Kind: eventlog.KindHuman,
		Reason: fmt.Sprintf("%s opened review thread %s on !%d (%s)", user, th.ID, mr, where),
		Data:   map[string]string{"mr": fmt.Sprint(mr), "thread": th.ID}})
}

// Reply answers in a review thread as user.
func (d *Desk) Reply(ctx context.Context, mr int64, thread, user, body string) error {
	rt, err := d.threads()
	if err != nil {
		return err
	}
	m, err := d.Tracker.MR(ctx, mr)
	if err != nil {
		return err
	}
	if _, err := rt.Reply(ctx, mr, thread, body, user); err != nil {
		return err
	}
	return d.record(ctx, eventlog.Event{Issue: m.Issue, Actor: user, Kind: eventlog.KindHuman,
		Reason: fmt.Sprintf("%s replied in review thread %s on !%d", user, thread, mr),
		Data:   map[string]string{"mr": fmt.Sprint(mr), "thread": thread}})
}

// Resolve resolves (or, with resolved false, reopens) a review thread.
// Only a reviewer may reopen one: a reopened thread asks the organization
// for an answer, which only reviewers' threads get.
func (d *Desk) Resolve(ctx context.Context, mr int64, thread, user string, resolved bool) error {
	rt, err := d.threads()
	if err != nil {
		return err
	}
	if !resolved && !d.reviewer(user) {
		who := strings.Join(d.reviewers(), ", ")
		if who == "" {
			who = "the workflow names none"
		}
		return fmt.Errorf("%s may not reopen review thread %s on !%d: only a reviewer may (%s); change `gates.<gate>.reviewers` in the workflow to allow them",
			user, thread, mr, who)
	}
	m, err := d.Tracker.MR(ctx, mr)
	if err != nil {
		return err
	}
	if _, err := rt.ResolveThread(ctx, mr, thread, resolved, user); err != nil {
		return err
	}
	what := "resolved"
	if !resolved {
		what = "reopened"
	}
	return d.record(ctx, eventlog.Event{Issue: m.Issue, Actor: user, Kind: eventlog.KindHuman,
		Reason: fmt.Sprintf("%s %s review thread %s on !%d", user, what, thread, mr),
		Data:   map[string]string{"mr": fmt.Sprint(mr), "thread": thread}})
}

// reviewers lists the reviewers of the workflow's merge request gates (a
// gate's approvers when it names none), never the bot.
func (d *Desk) reviewers() []string {
	var out []string
	for _, g := range d.Workflow.Gates {
		if !g.MergeRequest {
			continue
		}
		who := g.Reviewers
		if len(who) == 0 {
			who = g.Approvers
		}
		for _, u := range who {
			if u != d.Workflow.Tracker.Bot && !slices.Contains(out, u) {
				out = append(out, u)
			}
		}
	}
	return out
}

func (d *Desk) reviewer(user string) bool { return slices.Contains(d.reviewers(), user) }
