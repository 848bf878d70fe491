package agentorg

import (
	"context"
	"time"
)

// Release is a published release: its tag on the released commit, and the
// notes.
type Release struct {
	Version string `json:"version"` // "0.1.0"
	Tag     string `json:"tag"`     // "v0.1.0": a tag in the repository, on Commit
	Commit  string `json:"commit"`
	Name    string `json:"name"`  // "v0.1.0"
	Notes   string `json:"notes"` // markdown
	// Links are the merged issues and merge requests the release carries.
	Links []Link    `json:"links,omitempty"`
	At    time.Time `json:"at"`
}

// Link is a named web address.
type Link struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// Deployment is one deployment of a release to an environment.
type Deployment struct {
	Environment string `json:"environment"`
	Version     string `json:"version"`
	Tag         string `json:"tag"`
	Commit      string `json:"commit"`
	// Status is DeploymentRunning, DeploymentSuccess, DeploymentFailed or
	// DeploymentCanceled (GitLab's words).
	Status string `json:"status"`
	// ID is the forge's id once recorded (0 before).
	ID int64 `json:"id,omitempty"`
}

// Deployment statuses.
const (
	DeploymentRunning  = "running"
	DeploymentSuccess  = "success"
	DeploymentFailed   = "failed"
	DeploymentCanceled = "canceled"
)

// ReleasePublisher is a tracker that records releases itself (GitLab's
// Releases). Optional: the embedded tracker keeps them in agentorg's own
// records.
type ReleasePublisher interface {
	// PublishRelease records r for its tag, which exists in the repository
	// already; publishing the same tag again returns the existing one (a
	// retry after a crash), never a second or an error. It returns the
	// release's web address.
	PublishRelease(ctx context.Context, r Release) (url string, err error)
}

// DeploymentRecorder is a tracker that records deployments (GitLab's
// Environments and Deployments).
type DeploymentRecorder interface {
	// StartDeployment records a running deployment and returns its id;
	// FinishDeployment sets its final status.
	StartDeployment(ctx context.Context, d Deployment) (int64, error)
	FinishDeployment(ctx context.Context, id int64, status string) error
}
