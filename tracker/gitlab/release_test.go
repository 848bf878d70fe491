package gitlab_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/tracker/gitlab/gitlabfake"
)

const (
	createRelease    = "POST /api/v4/projects/{id}/releases"
	getRelease       = "GET /api/v4/projects/{id}/releases/{tag}"
	createDeployment = "POST /api/v4/projects/{id}/deployments"
	updateDeployment = "PUT /api/v4/projects/{id}/deployments/{did}"
)

// tag makes an annotated tag on commit in the fake's repository, as a push
// of the release's tag would.
func tag(t *testing.T, e *env, name, commit string) {
	t.Helper()
	gitOut(t, e.fake.Repo, "", "tag", "-a", "-m", "release "+name, name, commit)
}

func TestPublishRelease(t *testing.T) {
	e := newEnv(t, false)
	ctx := t.Context()
	sha := e.push(t, "main")
	tag(t, e, "v0.1.0", sha)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	r := agentorg.Release{Version: "0.1.0", Tag: "v0.1.0", Commit: sha, Name: "v0.1.0", At: at,
		Notes: "## Changes\n\n- #3 Add the widget (!4)\n",
		Links: []agentorg.Link{
			{Name: "#3 Add the widget", URL: e.fake.URL + "/team/app/-/issues/3"},
			{Name: "!4 Add the widget", URL: e.fake.URL + "/team/app/-/merge_requests/4"},
			{Name: "!4 again", URL: e.fake.URL + "/team/app/-/merge_requests/4"}, // GitLab refuses a repeated URL
		}}
	url, err := e.tr.PublishRelease(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if want := e.fake.URL + "/team/app/-/releases/v0.1.0"; url != want {
		t.Fatalf("url %q, want %q", url, want)
	}
	rels := e.fake.Releases()
	if len(rels) != 1 {
		t.Fatalf("releases %+v", rels)
	}
	got := rels[0]
	if got.TagName != "v0.1.0" || got.Name != "v0.1.0" || got.Description != r.Notes || got.Commit != sha || !got.ReleasedAt.Equal(at) {
		t.Fatalf("release %+v", got)
	}
	if len(got.Links) != 2 || got.Links[0].Name != "#3 Add the widget" || got.Links[1].URL != r.Links[1].URL ||
		got.Links[0].LinkType != "other" {
		t.Fatalf("links %+v", got.Links)
	}

	// The request as GitLab documents it: tag_name, name, description,
	// released_at (ISO 8601), assets.links[{name, url, link_type}], and no
	// ref (GitLab would make the tag itself from one).
	req := got.Request
	if req["tag_name"] != "v0.1.0" || req["name"] != "v0.1.0" || req["description"] != r.Notes {
		t.Fatalf("request %v", req)
	}
	if _, ok := req["ref"]; ok {
		t.Fatalf("a ref was sent: %v", req)
	}
	if ra, _ := req["released_at"].(string); ra != "2026-03-01T12:00:00Z" {
		t.Fatalf("released_at %v", req["released_at"])
	}
	assets, _ := req["assets"].(map[string]any)
	links, _ := assets["links"].([]any)
	if len(links) != 2 {
		t.Fatalf("assets %v", req["assets"])
	}
	l0, _ := links[0].(map[string]any)
	if l0["name"] != "#3 Add the widget" || l0["url"] != r.Links[0].URL || l0["link_type"] != "other" {
		t.Fatalf("assets.links[0] %v", l0)
	}

	// Again (a retry after a crash): the same address, nothing new.
	_, before := e.fake.Requests()
	again, err := e.tr.PublishRelease(ctx, r)
	if err != nil || again != url {
		t.Fatalf("again: %q, %v; want %q", again, err, url)
	}
	if n := len(e.fake.Releases()); n != 1 {
		t.Fatalf("%d releases after publishing again", n)
	}
	_, after := e.fake.Requests()
	if after[createRelease]-before[createRelease] != 1 || after[getRelease]-before[getRelease] != 1 {
		t.Fatalf("publishing again cost %d creates and %d reads, want 1 (answered 409) and 1",
			after[createRelease]-before[createRelease], after[getRelease]-before[getRelease])
	}
}

// The create's answer is lost: the change is made, the tracker hears 502
// (a POST is not retried). The engine's retry finds the release.
func TestPublishReleaseAfterALostAnswer(t *testing.T) {
	e := newEnv(t, false)
	ctx := t.Context()
	sha := e.push(t, "main")
	tag(t, e, "v0.2.0", sha)
	e.fake.Inject(gitlabfake.Fault{Method: "POST", Pattern: createRelease, Status: http.StatusBadGateway, Times: 1, Lost: true})
	r := agentorg.Release{Tag: "v0.2.0", Commit: sha, Name: "v0.2.0", Notes: "notes"}
	if _, err := e.tr.PublishRelease(ctx, r); !errors.Is(err, agentorg.ErrUnavailable) {
		t.Fatalf("lost answer: %v, want ErrUnavailable", err)
	}
	url, err := e.tr.PublishRelease(ctx, r)
	if err != nil || !strings.HasSuffix(url, "/-/releases/v0.2.0") {
		t.Fatalf("retry: %q, %v", url, err)
	}
	if n := len(e.fake.Releases()); n != 1 {
		t.Fatalf("%d releases", n)
	}
}

func TestPublishReleaseOfAMissingTag(t *testing.T) {
	e := newEnv(t, false)
	ctx := t.Context()
	sha := e.push(t, "main")
	_, err := e.tr.PublishRelease(ctx, agentorg.Release{Tag: "v9.9.9", Commit: sha, Name: "v9.9.9", Notes: "never pushed"})
	if !errors.Is(err, agentorg.ErrNotFound) || !strings.Contains(err.Error(), "v9.9.9") || !strings.Contains(err.Error(), "push it first") {
		t.Fatalf("missing tag: %v", err)
	}
	if n := len(e.fake.Releases()); n != 0 {
		t.Fatalf("%d releases", n)
	}
	if out := gitOut(t, e.fake.Repo, "", "tag", "--list"); out != "" {
		t.Fatalf("a tag was made: %q", out)
	}
}

// A tag on another commit than the release says is reported, not taken.
func TestPublishReleaseOnAnotherCommit(t *testing.T) {
	e := newEnv(t, false)
	ctx := t.Context()
	old := e.push(t, "main")
	sha := e.push(t, "main")
	tag(t, e, "v0.3.0", old)
	_, err := e.tr.PublishRelease(ctx, agentorg.Release{Tag: "v0.3.0", Commit: sha, Name: "v0.3.0"})
	if err == nil || !strings.Contains(err.Error(), old) {
		t.Fatalf("tag on %s, released %s: %v", old, sha, err)
	}
}

func TestDeployment(t *testing.T) {
	e := newEnv(t, false)
	ctx := t.Context()
	sha := e.push(t, "main")
	tag(t, e, "v0.1.0", sha)
	d := agentorg.Deployment{Environment: "production", Version: "0.1.0", Tag: "v0.1.0", Commit: sha}
	id, err := e.tr.StartDeployment(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if id == 0 {
		t.Fatal("no id")
	}
	// A retry of the start (its answer lost) finds the running one.
	_, before := e.fake.Requests()
	if again, err := e.tr.StartDeployment(ctx, d); err != nil || again != id {
		t.Fatalf("start again: %d, %v; want %d", again, err, id)
	}
	if _, after := e.fake.Requests(); after[createDeployment] != before[createDeployment] {
		t.Fatal("a second deployment was created")
	}
	deps := e.fake.Deployments()
	if len(deps) != 1 {
		t.Fatalf("deployments %+v", deps)
	}
	req := deps[0].Request
	if req["environment"] != "production" || req["ref"] != "v0.1.0" || req["sha"] != sha || req["tag"] != true || req["status"] != "running" {
		t.Fatalf("request %v", req)
	}
	if got := e.fake.Environments(); len(got) != 1 || got[0] != "production" {
		t.Fatalf("environments %v: made on the first deployment", got)
	}

	if err := e.tr.FinishDeployment(ctx, id, agentorg.DeploymentSuccess); err != nil {
		t.Fatal(err)
	}
	// Finishing again (a retry) is no error; GitLab refuses the transition.
	if err := e.tr.FinishDeployment(ctx, id, agentorg.DeploymentSuccess); err != nil {
		t.Fatalf("finish again: %v", err)
	}
	if err := e.tr.FinishDeployment(ctx, id, "running"); err == nil {
		t.Fatal("running accepted as a final status")
	}
	if err := e.tr.FinishDeployment(ctx, id+1000, agentorg.DeploymentFailed); !errors.Is(err, agentorg.ErrNotFound) {
		t.Fatalf("unknown deployment: %v", err)
	}

	// Another environment, failed.
	id2, err := e.tr.StartDeployment(ctx, agentorg.Deployment{Environment: "staging", Tag: "v0.1.0", Commit: sha})
	if err != nil || id2 == id {
		t.Fatalf("staging: %d, %v", id2, err)
	}
	if err := e.tr.FinishDeployment(ctx, id2, agentorg.DeploymentFailed); err != nil {
		t.Fatal(err)
	}

	// Listed by environment through GitLab's API, with the final status.
	c := e.tr.Client()
	ds, _, err := c.Deployments.ListProjectDeployments(e.fake.ProjectPath, &gl.ListProjectDeploymentsOptions{Environment: gl.Ptr("production")})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].ID != id || ds[0].Status != "success" || ds[0].Ref != "v0.1.0" || ds[0].SHA != sha ||
		ds[0].Environment == nil || ds[0].Environment.Name != "production" {
		t.Fatalf("production's deployments %+v", ds)
	}
	envs, _, err := c.Environments.ListEnvironments(e.fake.ProjectPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(envs) != 2 || envs[0].Name != "production" || envs[0].Tier != "production" || envs[1].Name != "staging" {
		t.Fatalf("environments %+v", envs)
	}
	if got := e.fake.Deployments(); got[1].Environment != "staging" || got[1].Status != "failed" {
		t.Fatalf("deployments %+v", got)
	}
	_, routes := e.fake.Requests()
	// success, success again (refused, read), an unknown id, staging failed
	if routes[createDeployment] != 2 || routes[updateDeployment] != 4 {
		t.Fatalf("requests %v", routes)
	}
}

func TestDeploymentOfAnUnknownCommit(t *testing.T) {
	e := newEnv(t, false)
	_, err := e.tr.StartDeployment(t.Context(), agentorg.Deployment{Environment: "production", Tag: "v0.1.0",
		Commit: strings.Repeat("ab", 20)})
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("unknown commit and tag: %v", err)
	}
	if n := len(e.fake.Environments()); n != 0 {
		t.Fatalf("%d environments made by a refused deployment", n)
	}
}
