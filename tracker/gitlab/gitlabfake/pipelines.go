package gitlabfake

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// PipelineSpec is a pipeline the fake runs: it reads as running RunningReads
// times, then ends with Status.
type PipelineSpec struct {
	Status       string
	RunningReads int
	Jobs         []JobSpec
}

// JobSpec is one job of a pipeline; Log is its trace.
type JobSpec struct {
	Name, Stage, Status, FailureReason, Log string
}

type pipeline struct {
	ID, IID  int64
	SHA, Ref string
	// Source is what started it: "push" for CI, "external" for one GitLab
	// made to hold commit statuses posted while the commit had none.
	Source  string
	Spec    PipelineSpec
	reads   int
	jobIDs  []int64
	Created time.Time
	// statuses posted on the commit and appended to this pipeline, as
	// jobs of its "external" stage.
	statuses []*commitStatus
}

// AddPipeline records a pipeline for sha and returns its id.
func (s *Server) AddPipeline(sha string, spec PipelineSpec) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addPipeline(sha, spec).ID
}

func (s *Server) addPipeline(sha string, spec PipelineSpec) *pipeline {
	p := &pipeline{ID: s.id(), IID: int64(len(s.pipes) + 1), SHA: sha, Source: "push", Spec: spec, Created: s.now()}
	for range spec.Jobs {
		p.jobIDs = append(p.jobIDs, s.id())
	}
	s.asked[sha] = true
	s.pipes = append(s.pipes, p)
	return p
}

// Pipelines returns how many CI pipelines were started for sha (external
// ones left out: nothing ran in them).
func (s *Server) Pipelines(sha string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, p := range s.pipes {
		if p.SHA == sha && p.Source != "external" {
			n++
		}
	}
	return n
}

// status is the pipeline's status: its spec's once read RunningReads
// times; an external job that failed fails a pipeline that would pass, as
// on GitLab. An external pipeline is what its statuses say.
func (p *pipeline) status() string {
	if p.Source == "external" {
		return externalStatus(p.statuses)
	}
	if p.reads < p.Spec.RunningReads {
		return "running"
	}
	if p.Spec.Status == "success" && externalStatus(p.statuses) == "failed" {
		return "failed"
	}
	return p.Spec.Status
}

// externalStatus composes the latest status of each name: failed if one
// failed, running while one is pending or running, else success.
func externalStatus(sts []*commitStatus) string {
	latest := map[string]string{}
	for _, st := range sts {
		latest[st.Name] = st.State
	}
	out := "success"
	for _, state := range latest {
		switch state {
		case "failed":
			return "failed"
		case "pending", "running":
			out = "running"
		}
	}
	return out
}

// pipelineFor finds the pipeline a commit status on sha joins, as GitLab
// does: the newest pipeline of the commit, else a new one with source
// "external" (which is not CI: nothing ran).
func (s *Server) pipelineFor(sha, ref string) *pipeline {
	s.startCI(sha) // the push that brought the commit started its CI first
	if p := s.newestPipeline(sha); p != nil {
		return p
	}
	p := &pipeline{ID: s.id(), IID: int64(len(s.pipes) + 1), SHA: sha, Ref: ref, Source: "external", Created: s.now()}
	s.pipes = append(s.pipes, p)
	return p
}

func (s *Server) pipelineJSON(p *pipeline) map[string]any {
	return map[string]any{"id": p.ID, "iid": p.IID, "project_id": projectID, "sha": p.SHA, "ref": p.Ref, "status": p.status(),
		"source": p.Source, "created_at": ts(p.Created), "updated_at": ts(p.Created),
		"web_url": fmt.Sprintf("%s/%s/-/pipelines/%d", s.URL, s.ProjectPath, p.ID)}
}

func (s *Server) listPipelines(c *call) (int, any) {
	sha, _ := c.str("sha")
	if sha != "" {
		s.startCI(sha)
	}
	var out []*pipeline
	for _, p := range s.pipes {
		if sha == "" || p.SHA == sha {
			out = append(out, p)
		}
	}
	asc := false
	if v, _ := c.str("sort"); v == "asc" {
		asc = true
	}
	sort.SliceStable(out, func(a, b int) bool { return (out[a].ID < out[b].ID) == asc })
	docs := []any{}
	for _, p := range paginate(c, out) {
		docs = append(docs, s.pipelineJSON(p))
		p.reads++
	}
	for _, m := range s.mrs {
		s.settleAutoMerge(m)
	}
	return 200, docs
}

// startCI asks CI, once per commit, what pipeline the commit gets.
func (s *Server) startCI(sha string) {
	if s.asked[sha] || s.CI == nil {
		return
	}
	s.asked[sha] = true
	if spec := s.CI(sha); spec != nil {
		s.addPipeline(sha, *spec)
	}
}

func (s *Server) findPipeline(id int64) *pipeline {
	for _, p := range s.pipes {
		if p.ID == id {
			return p
		}
	}
	return nil
}

func (s *Server) listJobs(c *call) (int, any) {
	p := s.findPipeline(c.path("pid"))
	if p == nil {
		return notFound("Pipeline")
	}
	var scope []string
	for k, v := range c.r.URL.Query() {
		if k == "scope[]" || k == "scope" {
			scope = append(scope, v...)
		}
	}
	docs := []any{}
	var jobs []any
	for i, j := range p.Spec.Jobs {
		if len(scope) > 0 && !slices.Contains(scope, j.Status) {
			continue
		}
		jobs = append(jobs, map[string]any{"id": p.jobIDs[i], "status": j.Status, "stage": j.Stage, "name": j.Name,
			"ref": p.Ref, "tag": false, "allow_failure": false, "created_at": ts(p.Created), "started_at": ts(p.Created),
			"finished_at": ts(p.Created), "duration": 1.0, "failure_reason": nilIfEmpty(j.FailureReason),
			"web_url":  fmt.Sprintf("%s/%s/-/jobs/%d", s.URL, s.ProjectPath, p.jobIDs[i]),
			"pipeline": map[string]any{"id": p.ID, "project_id": projectID, "sha": p.SHA, "ref": p.Ref, "status": p.status()}})
	}
	docs = append(docs, paginate(c, jobs)...)
	return 200, docs
}

func (s *Server) trace(c *call) (int, any) {
	id := c.path("jid")
	for _, p := range s.pipes {
		if k := slices.Index(p.jobIDs, id); k >= 0 {
			return 200, rawText(p.Spec.Jobs[k].Log)
		}
	}
	return notFound("Job")
}
