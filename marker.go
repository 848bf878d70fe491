package agentorg

import (
	"fmt"
	"regexp"
	"strings"
)

// Marker returns the hidden marker that identifies a comment written by the
// engine, so that a retry finds and updates it rather than posting twice. It
// is an HTML comment: invisible in rendered Markdown (GitLab, the CLI strips it).
func Marker(key string) string {
	return "<!-- agentorg:" + key + " -->"
}

// HasMarker reports whether body carries the marker for key.
func HasMarker(body, key string) bool {
	return strings.Contains(body, Marker(key))
}

var markerRE = regexp.MustCompile(`<!-- agentorg:[^>]* -->\n?`)

// StripMarkers removes hidden markers from a body for display.
func StripMarkers(body string) string {
	return markerRE.ReplaceAllString(body, "")
}

// FeedbackKey marks a human's rejection comment (and a CI failure report),
// so that the next agent run is given it.
const FeedbackKey = "feedback"

// PlanKey marks the PM's plan comment of an issue: the plan the gate
// approves, the developer is given, and a person is shown.
func PlanKey(issue int64) string { return fmt.Sprintf("plan:%d", issue) }

// ReleaseNotesKey marks a release issue's notes comment: what its gate
// approves, as a plan's comment is for an issue's.
func ReleaseNotesKey(issue int64) string { return fmt.Sprintf("release-notes:%d", issue) }
