package gitlabfake

import (
	"fmt"
	"time"
)

// AddMergedMRs gives the project a history: n merge requests merged long
// ago (their last change age before now), from branches old/N into main,
// as a project that has been used for a while holds. A client that pages
// through every merge request to find one pays for all of them.
func (s *Server) AddMergedMRs(n int, age time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	main := s.head("main")
	at := s.now().Add(-age)
	for i := 0; i < n; i++ {
		m := &mergeRequest{ID: s.id(), IID: int64(len(s.mrs) + 1), Title: fmt.Sprintf("Old change %d", i+1),
			Source: fmt.Sprintf("old/%d", i+1), Target: "main", State: "merged", SHA: main, MergeSHA: main,
			Created: at, Updated: at, Merged: &at}
		m.Versions = []version{{ID: s.id(), Head: main, Base: main, Created: at}}
		s.mrs = append(s.mrs, m)
	}
}

// Statuses returns the latest state of each commit status on sha, by name.
func (s *Server) Statuses(sha string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for _, st := range s.statuses {
		if st.SHA == sha {
			out[st.Name] = st.State
		}
	}
	return out
}

// PipelineSources returns the source of each pipeline of sha, oldest
// first ("push" for CI, "external" for one made to hold statuses).
func (s *Server) PipelineSources(sha string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, p := range s.pipes {
		if p.SHA == sha {
			out = append(out, p.Source)
		}
	}
	return out
}
