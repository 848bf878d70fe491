package workflow

import (
	"fmt"
	"strings"
)

// ProjectURL is the forge project's web address ("" on the embedded
// tracker, whose issues have no web page of their own).
func (w *Workflow) ProjectURL() string {
	if w.Tracker.Kind != TrackerGitLab || w.Tracker.GitLab.URL == "" {
		return ""
	}
	return strings.TrimRight(w.Tracker.GitLab.URL, "/") + "/" + strings.Trim(w.Tracker.GitLab.Project, "/")
}

// IssueURL is issue n's page in the forge ("" without one).
func (w *Workflow) IssueURL(n int64) string {
	if base := w.ProjectURL(); base != "" {
		return fmt.Sprintf("%s/-/issues/%d", base, n)
	}
	return ""
}

// MRURL is merge request n's page in the forge ("" without one).
func (w *Workflow) MRURL(n int64) string {
	if base := w.ProjectURL(); base != "" {
		return fmt.Sprintf("%s/-/merge_requests/%d", base, n)
	}
	return ""
}
