package agentorg

import (
	"context"
	"time"
)

// ReviewNote is one note of a review thread.
type ReviewNote struct {
	ID        int64     `json:"id"`
	Author    string    `json:"author"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// ReviewThread is a discussion on a merge request: a first note and its
// replies, optionally anchored to a line of a file in the change (a diff
// note), and resolved or not. ID is the forge's identifier of the thread (a
// GitLab discussion id; a number in the embedded tracker).
type ReviewThread struct {
	ID         string       `json:"id"`
	MR         int64        `json:"mr"`
	Path       string       `json:"path,omitempty"` // "" for a thread on the merge request as a whole
	Line       int          `json:"line,omitempty"` // line in the new version of Path
	Resolved   bool         `json:"resolved"`
	ResolvedBy string       `json:"resolved_by,omitempty"`
	Notes      []ReviewNote `json:"notes"`
}

// Author is who opened the thread.
func (t ReviewThread) Author() string {
	if len(t.Notes) == 0 {
		return ""
	}
	return t.Notes[0].Author
}

// NewReviewThread is what StartThread needs. Path and Line anchor the
// thread to a line of the change's new version; both or neither.
type NewReviewThread struct {
	Body   string
	Author string
	Path   string
	Line   int
}

// ReviewThreads is implemented by trackers whose merge requests carry
// review threads (the embedded tracker, GitLab discussions). Review text is
// written by people and is untrusted: callers decide whose threads count.
//
// Contract (held by tracker/trackertest):
//   - Threads lists every thread of a merge request, oldest first, each with
//     its notes oldest first; ErrNotFound for an unknown merge request.
//   - Reply appends a note; replying to an unknown thread is ErrNotFound.
//   - ResolveThread sets the resolved flag; setting it to what it is
//     changes nothing.
type ReviewThreads interface {
	Threads(ctx context.Context, mr int64) ([]ReviewThread, error)
	StartThread(ctx context.Context, mr int64, in NewReviewThread) (ReviewThread, error)
	Reply(ctx context.Context, mr int64, thread, body, actor string) (ReviewNote, error)
	ResolveThread(ctx context.Context, mr int64, thread string, resolved bool, actor string) (ReviewThread, error)
}
