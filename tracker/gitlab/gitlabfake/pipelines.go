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
	Spec     PipelineSpec
	reads    int
	jobIDs   []int64
	Created  time.Time
}

// AddPipeline records a pipeline for sha and returns its id.
func (s *Server) AddPipeline(sha string, spec PipelineSpec) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addPipeline(sha, spec).ID
}

func (s *Server) addPipeline(sha string, spec PipelineSpec) *pipeline {
	p := &pipeline{ID: s.id(), IID: int64(len(s.pipes) + 1), SHA: sha, Spec: spec, Created: s.now()}
	for range spec.Jobs {
		p.jobIDs = append(p.jobIDs, s.id())
	}
	s.asked[sha] = true
	s.pipes = append(s.pipes, p)
	return p
}

// Pipelines returns how many pipelines were started for sha.
func (s *Server) Pipelines(sha string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, p := range s.pipes {
		if p.SHA == sha {
			n++
		}
	}
	return n
}

func (p *pipeline) status() string {
	if p.reads < p.Spec.RunningReads {
		return "running"
	}
	return p.Spec.Status
}

func (s *Server) pipelineJSON(p *pipeline) map[string]any {
	return map[string]any{"id": p.ID, "iid": p.IID, "project_id": projectID, "sha": p.SHA, "ref": p.Ref, "status": p.status(),
		"source": "push", "created_at": ts(p.Created), "updated_at": ts(p.Created),
		"web_url": fmt.Sprintf("%s/%s/-/pipelines/%d", s.URL, s.ProjectPath, p.ID)}
}

func (s *Server) listPipelines(c *call) (int, any) {
	sha, _ := c.str("sha")
	if sha != "" && !s.asked[sha] && s.CI != nil {
		s.asked[sha] = true
		if spec := s.CI(sha); spec != nil {
			s.addPipeline(sha, *spec)
		}
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
