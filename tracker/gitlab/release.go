package gitlab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/agentorg/agentorg"
)

var (
	_ agentorg.ReleasePublisher   = (*Tracker)(nil)
	_ agentorg.DeploymentRecorder = (*Tracker)(nil)
)

// PublishRelease records r as a GitLab release of its tag
// (POST /projects/:id/releases with tag_name, name, description,
// released_at and an asset link of type "other" for each of r.Links) and
// returns its web address (_links.self).
//
// The tag must be in GitLab's repository already: no ref is sent, so
// GitLab never makes a tag of its own, and a tag that was not pushed is an
// error wrapping agentorg.ErrNotFound (GitLab answers 422 "Ref is not
// specified"). A release of the tag that exists already (409: a retry after
// a crash, or an answer lost on the way back) is read and returned as it
// is, unless it is on another commit than r.Commit.
func (t *Tracker) PublishRelease(ctx context.Context, r agentorg.Release) (string, error) {
	if r.Tag == "" {
		return "", errors.New("gitlab: a release needs a tag")
	}
	what := "gitlab: release " + r.Tag
	opt := &gl.CreateReleaseOptions{TagName: ptr(r.Tag), Description: ptr(r.Notes)}
	if r.Name != "" {
		opt.Name = ptr(r.Name)
	}
	if !r.At.IsZero() {
		opt.ReleasedAt = ptr(r.At.UTC())
	}
	if links := assetLinks(r.Links); len(links) > 0 {
		opt.Assets = &gl.ReleaseAssetsOptions{Links: links}
	}
	rel, _, err := t.c.Releases.CreateRelease(t.project, opt, gl.WithContext(ctx))
	switch code := status(err); {
	case err == nil:
	case code == http.StatusConflict:
		rel, _, err = t.c.Releases.GetRelease(t.project, r.Tag, gl.WithContext(ctx))
		if err != nil {
			return "", wrap(err, what+": exists: read it")
		}
	case code == http.StatusUnprocessableEntity && strings.Contains(err.Error(), "Ref is not specified"):
		return "", fmt.Errorf("%s: the tag is not in GitLab's repository (push it first): %w", what, agentorg.ErrNotFound)
	default:
		return "", wrap(err, what)
	}
	if r.Commit != "" && rel.Commit.ID != "" && rel.Commit.ID != r.Commit {
		return rel.Links.Self, fmt.Errorf("%s: the tag is on %s, not on the released commit %s", what, rel.Commit.ID, r.Commit)
	}
	if rel.Links.Self == "" {
		return "", fmt.Errorf("%s: GitLab gave no address (_links.self)", what)
	}
	return rel.Links.Self, nil
}

// assetLinks are a release's links as GitLab's asset links: names and URLs
// must each be unique within a release, so a repeated one is left out, as
// is a link without a URL.
func assetLinks(links []agentorg.Link) []*gl.ReleaseAssetLinkOptions {
	var out []*gl.ReleaseAssetLinkOptions
	names, urls := map[string]bool{}, map[string]bool{}
	for _, l := range links {
		name := strings.TrimSpace(l.Name)
		if name == "" {
			name = l.URL
		}
		if l.URL == "" || names[name] || urls[l.URL] {
			continue
		}
		names[name], urls[l.URL] = true, true
		out = append(out, &gl.ReleaseAssetLinkOptions{Name: ptr(name), URL: ptr(l.URL), LinkType: ptr(gl.OtherLinkType)})
	}
	return out
}

// StartDeployment records a running deployment of d.Tag (on d.Commit) to
// d.Environment (POST /projects/:id/deployments with status running,
// ref the tag, tag true, sha the commit; GitLab makes the environment on
// its first deployment) and returns GitLab's id of it.
//
// A create whose answer was lost may have been made: the engine's retry
// first looks for a running deployment of the same tag and commit in the
// environment and returns that one instead of starting a second.
func (t *Tracker) StartDeployment(ctx context.Context, d agentorg.Deployment) (int64, error) {
	switch {
	case d.Environment == "":
		return 0, errors.New("gitlab: a deployment needs an environment")
	case d.Tag == "" || d.Commit == "":
		return 0, fmt.Errorf("gitlab: a deployment to %s needs a tag and a commit", d.Environment)
	}
	what := fmt.Sprintf("gitlab: deployment of %s to %s", d.Tag, d.Environment)
	running, _, err := t.c.Deployments.ListProjectDeployments(t.project, &gl.ListProjectDeploymentsOptions{
		ListOptions: gl.ListOptions{PerPage: 20, Page: 1}, Environment: &d.Environment,
		Status: ptr(agentorg.DeploymentRunning), OrderBy: ptr("id"), Sort: ptr("desc"),
	}, gl.WithContext(ctx))
	if err != nil {
		return 0, wrap(err, what+": running deployments")
	}
	for _, g := range running {
		if g.Ref == d.Tag && g.SHA == d.Commit {
			return g.ID, nil
		}
	}
	g, _, err := t.c.Deployments.CreateProjectDeployment(t.project, &gl.CreateProjectDeploymentOptions{
		Environment: &d.Environment, Ref: &d.Tag, SHA: &d.Commit, Tag: ptr(true), Status: ptr(gl.DeploymentStatusRunning),
	}, gl.WithContext(ctx))
	if err != nil {
		return 0, wrap(err, what)
	}
	return g.ID, nil
}

// FinishDeployment sets a deployment's final status: success, failed or
// canceled (PUT /projects/:id/deployments/:deployment_id). Setting the
// status it has already is no error (GitLab refuses that transition with
// 400; the deployment is read to tell it from another refusal).
func (t *Tracker) FinishDeployment(ctx context.Context, id int64, st string) error {
	switch st {
	case agentorg.DeploymentSuccess, agentorg.DeploymentFailed, agentorg.DeploymentCanceled:
	default:
		return fmt.Errorf("gitlab: deployment %d: %q is no final status (success, failed, canceled)", id, st)
	}
	if id <= 0 {
		return fmt.Errorf("gitlab: no deployment %d", id)
	}
	what := fmt.Sprintf("gitlab: deployment %d: set %s", id, st)
	_, _, err := t.c.Deployments.UpdateProjectDeployment(t.project, id, &gl.UpdateProjectDeploymentOptions{
		Status: ptr(gl.DeploymentStatusValue(st)),
	}, gl.WithContext(ctx))
	if err != nil && status(err) == http.StatusBadRequest {
		if g, _, gerr := t.c.Deployments.GetProjectDeployment(t.project, id, gl.WithContext(ctx)); gerr == nil && g.Status == st {
			return nil
		}
	}
	return wrap(err, what)
}
