// Package gitlab implements agentorg.Tracker on a GitLab project through
// GitLab's official Go client (gitlab.com/gitlab-org/api/client-go).
//
// How the interface maps onto GitLab:
//   - Issues are the project's issues (numbers are iids); labels are issue
//     labels, changed with add_labels/remove_labels in one request.
//   - ListIssues answers from a copy of the project's issues kept in the
//     home's SQLite database, brought up to date with one query for the
//     issues updated since a persisted watermark (minus an overlap, because
//     GitLab's time filters are whole seconds and inclusive), so an idle poll
//     costs one request however many issues are open.
//   - Label events are resource_label_events; comments are issue notes
//     (system notes left out).
//   - A merge request records its issue in a hidden marker in its
//     description. Approvals carry the head SHA they were given at, worked
//     out from the merge request's diff versions, so an approval is void once
//     new commits land whatever the project's reset-approvals setting says.
//   - Checks are commit statuses.
//   - Releases are GitLab releases of tags already pushed (one a tag, so
//     publishing again finds the first); deployments are GitLab
//     deployments, their environments made by the first one.
//
// Every write names an actor. The token's own account acts for the workflow's
// bot; writes by anyone else need Options.Sudo (an administrator's token,
// as GitLab's Sudo header requires), which only tests and the contract suite
// against a live instance use. Everything the token's account did is
// reported as done by Options.Bot, so the engine never mistakes the bot's own
// label events for a human's approval.
package gitlab

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/metrics"
)

// Options configure a Tracker.
type Options struct {
	// BaseURL is the GitLab instance, e.g. https://gitlab.example.com (the
	// /api/v4 suffix is added when missing).
	BaseURL string
	// Project is the project's numeric id or full path (group/name).
	Project string
	// Token is a personal, project or group access token with the api scope.
	Token string
	// Bot is the workflow's bot name: the token's account is reported under
	// this name.
	Bot string
	// Sudo lets writes act as other users through the Sudo header (needs an
	// administrator's token with the sudo scope). Off in production: humans
	// act in GitLab itself.
	Sudo bool
	// DB holds the issue copy and the watermark (the home's database).
	DB *sql.DB
	// Overlap is how far before the watermark each poll reads again.
	// Default one minute.
	Overlap time.Duration
	// Budget shares rate limits and concurrency between the trackers using
	// one token; nil takes the process-wide budget of (BaseURL, Token).
	Budget *Budget
	// HTTPClient's transport carries the requests under the budget (tests
	// pass the fake's client); nil uses http.DefaultTransport.
	HTTPClient *http.Client
	// Metrics, when set, counts the requests sent (each retry too) by
	// method and status, and the waits for the rate limit.
	Metrics *metrics.Metrics
}

// Tracker implements agentorg.Tracker on one GitLab project.
type Tracker struct {
	c       *gl.Client
	project string
	bot     string
	sudo    bool
	db      *sql.DB
	overlap time.Duration

	userMu sync.Mutex
	user   string // the token's username, once known

	syncMu   sync.Mutex // one issue sync at a time
	mrSyncMu sync.Mutex // one ChangedMRs at a time
	keyLocks sync.Map   // comment key -> *sync.Mutex, so concurrent upserts do not race

	access accessCache // project access levels by username, briefly
}

var _ agentorg.Tracker = (*Tracker)(nil)

// New returns a tracker for o.Project and creates its tables in o.DB.
func New(ctx context.Context, o Options) (*Tracker, error) {
	switch {
	case o.BaseURL == "":
		return nil, errors.New("gitlab: the instance URL is empty (tracker.gitlab.url)")
	case o.Project == "":
		return nil, errors.New("gitlab: the project is empty (tracker.gitlab.project)")
	case o.Token == "":
		return nil, errors.New("gitlab: the token is empty (tracker.gitlab.token names an environment variable that must hold it)")
	case o.DB == nil:
		return nil, errors.New("gitlab: no database for the issue copy")
	}
	if o.Overlap <= 0 {
		o.Overlap = time.Minute
	}
	if o.Bot == "" {
		o.Bot = "agentorg"
	}
	budget := o.Budget
	if budget == nil {
		budget = SharedBudget(o.BaseURL, o.Token)
	}
	base := http.DefaultTransport
	if o.HTTPClient != nil && o.HTTPClient.Transport != nil {
		base = o.HTTPClient.Transport
	}
	hc := &http.Client{Transport: budget.transport(base, o.Metrics)}
	c, err := gl.NewClient(o.Token,
		gl.WithBaseURL(o.BaseURL),
		gl.WithHTTPClient(hc),
		// The budget retries (and never a create whose fate is unknown);
		// client-go would retry every POST on 5xx and fix its rate from the
		// first response only.
		gl.WithoutRetries(),
		gl.WithCustomLimiter(noLimit{}),
	)
	if err != nil {
		return nil, fmt.Errorf("gitlab: %w", err)
	}
	t := &Tracker{c: c, project: o.Project, bot: o.Bot, sudo: o.Sudo, db: o.DB, overlap: o.Overlap}
	if err := t.migrate(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

type noLimit struct{}

func (noLimit) Wait(context.Context) error { return nil }

// Client is the underlying client, for setup commands (labels, doctor).
func (t *Tracker) Client() *gl.Client { return t.c }

// tokenUser is the token's username, read once (a failure is not kept, so
// an outage does not stick).
func (t *Tracker) tokenUser(ctx context.Context) (string, error) {
	t.userMu.Lock()
	defer t.userMu.Unlock()
	if t.user != "" {
		return t.user, nil
	}
	u, _, err := t.c.Users.CurrentUser(gl.WithContext(ctx))
	if err != nil {
		return "", wrap(err, "gitlab: who is the token's user")
	}
	t.user = u.Username
	return t.user, nil
}

// as returns the request options of a write by actor.
func (t *Tracker) as(ctx context.Context, actor string) ([]gl.RequestOptionFunc, error) {
	opts := []gl.RequestOptionFunc{gl.WithContext(ctx)}
	if actor == "" || actor == t.bot {
		return opts, nil
	}
	me, err := t.tokenUser(ctx)
	if err != nil {
		return nil, err
	}
	if actor == me {
		return opts, nil
	}
	if !t.sudo {
		return nil, fmt.Errorf("gitlab: cannot act as %q: the token acts as %q (%s); on GitLab, people act in GitLab itself", actor, me, t.bot)
	}
	return append(opts, gl.WithSudo(actor)), nil
}

// name reports a GitLab username, the token's own account as the bot.
func (t *Tracker) name(ctx context.Context, username string) string {
	if username == "" {
		return ""
	}
	if me, err := t.tokenUser(ctx); err == nil && username == me {
		return t.bot
	}
	return username
}

func userName(u *gl.BasicUser) string {
	if u == nil {
		return ""
	}
	return u.Username
}

// wrap maps GitLab's answers to the tracker's errors: 404 to ErrNotFound;
// 429, 5xx and failures to reach GitLab (what the budget's retries could not
// cure) to ErrUnavailable.
func wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, gl.ErrNotFound) {
		return fmt.Errorf("%s: %w", what, agentorg.ErrNotFound)
	}
	if unavailable(err) {
		return fmt.Errorf("%s: %w: %w", what, agentorg.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func unavailable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	switch code := status(err); {
	case code == http.StatusTooManyRequests, code >= 500 && code != http.StatusNotImplemented:
		return true
	case code != 0:
		return false
	}
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne)
}

// status returns the HTTP status of a failed request, or 0.
func status(err error) int {
	if errors.Is(err, gl.ErrNotFound) {
		return http.StatusNotFound // client-go drops the response of a 404
	}
	var er *gl.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}

func tm(p *time.Time) time.Time {
	if p == nil {
		return time.Time{}
	}
	return p.UTC()
}

func ptr[T any](v T) *T { return &v }

func checkLabels(names []string) error {
	for _, l := range names {
		if strings.TrimSpace(l) == "" {
			return errors.New("empty label name")
		}
		if strings.Contains(l, ",") {
			return fmt.Errorf("label %q: GitLab label lists are comma-separated, so a name cannot hold a comma", l)
		}
	}
	return nil
}

// CloneURL is the project's HTTP clone URL (http_url_to_repo).
func (t *Tracker) CloneURL(ctx context.Context) (string, error) {
	p, _, err := t.c.Projects.GetProject(t.project, nil, gl.WithContext(ctx))
	if err != nil {
		return "", wrap(err, "gitlab: project "+t.project)
	}
	if p.HTTPURLToRepo == "" {
		return "", fmt.Errorf("gitlab: project %s has no HTTP clone URL", t.project)
	}
	return p.HTTPURLToRepo, nil
}
