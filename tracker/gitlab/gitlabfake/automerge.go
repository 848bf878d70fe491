package gitlabfake

// Auto-merge, as GitLab does it: PUT .../merge with auto_merge (or its
// older name merge_when_pipeline_succeeds) while the head's pipeline runs
// sets the merge request to merge when that pipeline succeeds; a failed or
// canceled pipeline, or a push, cancels it. With no running pipeline (none,
// or one already finished) the request merges at once: GitLab's own trap,
// kept here so that a client that does not guard against it is caught.

func (s *Server) autoMergeRequested(c *call) bool {
	for _, k := range []string{"auto_merge", "merge_when_pipeline_succeeds"} {
		if v, _ := c.str(k); v == "true" {
			return true
		}
	}
	return false
}

// newestPipeline is the newest pipeline for sha, or nil.
func (s *Server) newestPipeline(sha string) *pipeline {
	var out *pipeline
	for _, p := range s.pipes {
		if p.SHA == sha && (out == nil || p.ID > out.ID) {
			out = p
		}
	}
	return out
}

func (s *Server) pipelineActive(sha string) bool {
	p := s.newestPipeline(sha)
	if p == nil {
		return false
	}
	switch p.status() {
	case "created", "waiting_for_resource", "preparing", "pending", "running", "scheduled":
		return true
	}
	return false
}

// settleAutoMerge acts on the end of the pipeline an auto-merge waits for:
// success merges (as the user who set it), anything else that ends cancels.
func (s *Server) settleAutoMerge(m *mergeRequest) {
	if m.AutoMergeBy == nil || m.State != "opened" {
		return
	}
	p := s.newestPipeline(m.SHA)
	if p == nil || s.pipelineActive(m.SHA) {
		return
	}
	if p.status() != "success" {
		m.AutoMergeBy = nil
		m.Updated = s.now()
		return
	}
	tree, ok := s.mergeTree(m)
	if !ok {
		m.AutoMergeBy = nil // GitLab aborts: the merge request has conflicts
		return
	}
	s.mergeNow(m, m.AutoMergeBy, tree, m.AutoMergeMsg)
}

// cancelAutoMerge answers POST .../cancel_merge_when_pipeline_succeeds:
// 406 when there is nothing to cancel, as GitLab.
func (s *Server) cancelAutoMerge(c *call) (int, any) {
	m := s.findMR(c)
	if m == nil {
		return notFound("Merge Request")
	}
	if m.AutoMergeBy == nil || m.State != "opened" {
		return msg(406, "406 Not Acceptable")
	}
	m.AutoMergeBy, m.Updated = nil, s.now()
	return 201, s.mrJSON(m)
}

// AutoMergeSet reports whether merge request iid waits to merge when its
// pipeline succeeds.
func (s *Server) AutoMergeSet(iid int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.mrs {
		if m.IID == iid {
			return m.AutoMergeBy != nil
		}
	}
	return false
}
