package gitlab

import (
	"context"
	"fmt"
	"strings"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/agentorg/agentorg"
)

// Review threads are merge request discussions. A discussion's first note
// gives its author and, for a diff note, its position (new_path, new_line);
// it is resolved when every resolvable note is. System notes are left out.

var _ agentorg.ReviewThreads = (*Tracker)(nil)

func (t *Tracker) thread(ctx context.Context, mr int64, d *gl.Discussion) (agentorg.ReviewThread, bool) {
	th := agentorg.ReviewThread{ID: d.ID, MR: mr, Notes: []agentorg.ReviewNote{}}
	resolvable, resolved := 0, 0
	for _, n := range d.Notes {
		if n == nil || n.System {
			continue
		}
		if len(th.Notes) == 0 && n.Position != nil {
			th.Path, th.Line = n.Position.NewPath, int(n.Position.NewLine)
			if th.Path == "" {
				th.Path = n.Position.OldPath
			}
		}
		if n.Resolvable {
			resolvable++
			if n.Resolved {
				resolved++
				if th.ResolvedBy == "" {
					th.ResolvedBy = t.name(ctx, n.ResolvedBy.Username)
				}
			}
		}
		th.Notes = append(th.Notes, agentorg.ReviewNote{ID: n.ID, Author: t.name(ctx, n.Author.Username), Body: n.Body, CreatedAt: tm(n.CreatedAt)})
	}
	th.Resolved = resolvable > 0 && resolved == resolvable
	if !th.Resolved {
		th.ResolvedBy = ""
	}
	return th, len(th.Notes) > 0
}

// Threads lists a merge request's discussions that hold a note by someone.
func (t *Tracker) Threads(ctx context.Context, mr int64) ([]agentorg.ReviewThread, error) {
	opt := &gl.ListMergeRequestDiscussionsOptions{ListOptions: gl.ListOptions{PerPage: 100, Page: 1}}
	out := []agentorg.ReviewThread{}
	for {
		page, resp, err := t.c.Discussions.ListMergeRequestDiscussions(t.project, mr, opt, gl.WithContext(ctx))
		if err != nil {
			return nil, wrap(err, fmt.Sprintf("gitlab: merge request !%d: discussions", mr))
		}
		for _, d := range page {
			if th, ok := t.thread(ctx, mr, d); ok {
				out = append(out, th)
			}
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
}

// StartThread opens a discussion; with a path and line it is a diff note on
// the new version of the file at the merge request's current diff refs.
func (t *Tracker) StartThread(ctx context.Context, mr int64, in agentorg.NewReviewThread) (agentorg.ReviewThread, error) {
	if strings.TrimSpace(in.Body) == "" {
		return agentorg.ReviewThread{}, fmt.Errorf("gitlab: merge request !%d: start thread: empty body", mr)
	}
	if (in.Path == "") != (in.Line == 0) || in.Line < 0 {
		return agentorg.ReviewThread{}, fmt.Errorf("gitlab: merge request !%d: start thread: a position needs both a file and a line (>= 1), got %q line %d", mr, in.Path, in.Line)
	}
	opts, err := t.as(ctx, in.Author)
	if err != nil {
		return agentorg.ReviewThread{}, err
	}
	o := &gl.CreateMergeRequestDiscussionOptions{Body: &in.Body}
	if in.Path != "" {
		m, _, err := t.c.MergeRequests.GetMergeRequest(t.project, mr, nil, gl.WithContext(ctx))
		if err != nil {
			return agentorg.ReviewThread{}, wrap(err, fmt.Sprintf("gitlab: merge request !%d", mr))
		}
		refs := m.DiffRefs
		if refs.HeadSha == "" {
			return agentorg.ReviewThread{}, fmt.Errorf("gitlab: merge request !%d has no diff refs yet: cannot anchor a comment to %s:%d", mr, in.Path, in.Line)
		}
		o.Position = &gl.PositionOptions{BaseSHA: &refs.BaseSha, StartSHA: &refs.StartSha, HeadSHA: &refs.HeadSha,
			PositionType: ptr("text"), NewPath: &in.Path, OldPath: &in.Path, NewLine: ptr(int64(in.Line))}
	}
	d, _, err := t.c.Discussions.CreateMergeRequestDiscussion(t.project, mr, o, opts...)
	if err != nil {
		return agentorg.ReviewThread{}, wrap(err, fmt.Sprintf("gitlab: merge request !%d: start thread", mr))
	}
	th, _ := t.thread(ctx, mr, d)
	return th, nil
}

// Reply adds a note to a discussion.
func (t *Tracker) Reply(ctx context.Context, mr int64, thread, body, actor string) (agentorg.ReviewNote, error) {
	if strings.TrimSpace(body) == "" {
		return agentorg.ReviewNote{}, fmt.Errorf("gitlab: merge request !%d: reply: empty body", mr)
	}
	opts, err := t.as(ctx, actor)
	if err != nil {
		return agentorg.ReviewNote{}, err
	}
	n, _, err := t.c.Discussions.AddMergeRequestDiscussionNote(t.project, mr, thread, &gl.AddMergeRequestDiscussionNoteOptions{Body: &body}, opts...)
	if err != nil {
		return agentorg.ReviewNote{}, wrap(err, fmt.Sprintf("gitlab: merge request !%d: reply in thread %s", mr, thread))
	}
	return agentorg.ReviewNote{ID: n.ID, Author: t.name(ctx, n.Author.Username), Body: n.Body, CreatedAt: tm(n.CreatedAt)}, nil
}

// ResolveThread resolves or reopens a discussion; what is already so is
// left alone, without a request that would change nothing.
func (t *Tracker) ResolveThread(ctx context.Context, mr int64, thread string, resolved bool, actor string) (agentorg.ReviewThread, error) {
	d, _, err := t.c.Discussions.GetMergeRequestDiscussion(t.project, mr, thread, gl.WithContext(ctx))
	if err != nil {
		return agentorg.ReviewThread{}, wrap(err, fmt.Sprintf("gitlab: merge request !%d: thread %s", mr, thread))
	}
	if th, _ := t.thread(ctx, mr, d); th.Resolved == resolved {
		return th, nil
	}
	opts, err := t.as(ctx, actor)
	if err != nil {
		return agentorg.ReviewThread{}, err
	}
	d, _, err = t.c.Discussions.ResolveMergeRequestDiscussion(t.project, mr, thread, &gl.ResolveMergeRequestDiscussionOptions{Resolved: &resolved}, opts...)
	if err != nil {
		return agentorg.ReviewThread{}, wrap(err, fmt.Sprintf("gitlab: merge request !%d: resolve thread %s", mr, thread))
	}
	th, _ := t.thread(ctx, mr, d)
	return th, nil
}
