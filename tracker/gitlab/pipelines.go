package gitlab

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/agentorg/agentorg"
)

var _ agentorg.PipelineReader = (*Tracker)(nil)

// Log tails handed to a developer: the last lines, at most this much.
const (
	logTailLines = 80
	logTailBytes = 8 << 10
)

// Pipeline returns the newest CI pipeline for sha and, when it failed, its
// failed jobs with the tails of their logs. A pipeline GitLab made only to
// hold commit statuses (source "external": agentorg's own check results on
// a commit that had no pipeline) is not CI and is left out.
func (t *Tracker) Pipeline(ctx context.Context, sha string) (agentorg.Pipeline, error) {
	ps, _, err := t.c.Pipelines.ListProjectPipelines(t.project, &gl.ListProjectPipelinesOptions{
		ListOptions: gl.ListOptions{PerPage: 20, Page: 1}, SHA: &sha, OrderBy: ptr("id"), Sort: ptr("desc"),
	}, gl.WithContext(ctx))
	if err != nil {
		return agentorg.Pipeline{}, wrap(err, fmt.Sprintf("gitlab: pipelines of %s", sha))
	}
	ps = slices.DeleteFunc(ps, func(p *gl.PipelineInfo) bool { return p.Source == "external" })
	if len(ps) == 0 {
		return agentorg.Pipeline{}, fmt.Errorf("gitlab: no pipeline for %s: %w", sha, agentorg.ErrNotFound)
	}
	p := agentorg.Pipeline{ID: ps[0].ID, SHA: ps[0].SHA, Status: ps[0].Status, URL: ps[0].WebURL}
	if done, passed := p.Finished(); !done || passed {
		return p, nil
	}
	jobs, _, err := t.c.Jobs.ListPipelineJobs(t.project, p.ID, &gl.ListJobsOptions{
		ListOptions: gl.ListOptions{PerPage: 100, Page: 1}, Scope: &[]gl.BuildStateValue{gl.Failed},
	}, gl.WithContext(ctx))
	if err != nil {
		return p, wrap(err, fmt.Sprintf("gitlab: pipeline #%d: failed jobs", p.ID))
	}
	for _, j := range jobs {
		job := agentorg.PipelineJob{ID: j.ID, Name: j.Name, Stage: j.Stage, Status: j.Status, Reason: j.FailureReason, URL: j.WebURL}
		trace, _, err := t.c.Jobs.GetTraceFile(t.project, j.ID, gl.WithContext(ctx))
		if err != nil {
			job.LogTail = fmt.Sprintf("(the log could not be read: %v)", err)
		} else {
			b, _ := io.ReadAll(trace)
			job.LogTail = LogTail(string(b), logTailLines, logTailBytes)
		}
		p.Failed = append(p.Failed, job)
	}
	return p, nil
}

// escapes are terminal colour codes and GitLab's collapsible section
// markers ("section_start:1700000000:name\r\x1b[0K").
var escapes = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]|section_(start|end):[0-9]+:[^\r\n]*\r?`)

// LogTail keeps the last lines (at most maxLines and maxBytes) of a job log,
// without terminal escapes and carriage-return overwrites.
func LogTail(log string, maxLines, maxBytes int) string {
	log = escapes.ReplaceAllString(log, "")
	lines := strings.Split(strings.ReplaceAll(log, "\r\n", "\n"), "\n")
	for i, l := range lines {
		// A progress line rewritten with \r shows its last state.
		if k := strings.LastIndexByte(l, '\r'); k >= 0 {
			lines[i] = l[k+1:]
		}
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	cut := false
	if len(lines) > maxLines {
		lines, cut = lines[len(lines)-maxLines:], true
	}
	out := strings.Join(lines, "\n")
	if len(out) > maxBytes {
		out, cut = out[len(out)-maxBytes:], true
		if k := strings.IndexByte(out, '\n'); k >= 0 {
			out = out[k+1:]
		}
	}
	if cut {
		out = "[... earlier lines cut ...]\n" + out
	}
	return out
}
