package web

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/gate"
	"github.com/agentorg/agentorg/role"
)

// trainView is the merge train page: what the merge stage works on, what
// waits for it, what landed, and what E2E says of the target.
type trainView struct {
	Target string
	State  eventlog.Target
	Stage  string // the merge stage's name ("" when the workflow has none)
	On     string // its label
	Gate   string // the merge request gate before it
	// Train are the issues the merge stage runs on now (its running
	// label); Ready those at its label; Approval those waiting at the gate.
	Train, Ready, Approval []trainCar
	Landings               []landing
	E2E                    *agentorg.CheckResult
	E2ENote                string
}

// trainCar is an issue at or before the merge stage, with its merge
// request.
type trainCar struct {
	Issue int64
	Title string
	Label string
	MR    int64
	Head  string
	// ApprovedBy counts at the head under the gate's rules ("" for none);
	// Approvals are everyone who approved at the head, counted or not.
	ApprovedBy string
	Approvals  []string
	Note       string
}

// landing is a merge agentorg recorded.
type landing struct {
	Issue     int64
	MR        string
	MergeSHA  string
	Validated string // the commit validated before it landed (the MR's head, or a train's combination)
	Train     string // the train's run, when it landed in one
	Run       string
	Reason    string
	At        time.Time
}

// trainLandings is how many landings the page lists; e2eLookups how many
// of them it asks the tracker for an E2E result.
const (
	trainLandings = 20
	e2eLookups    = 5
)

var (
	validatedAs = regexp.MustCompile(`validated as ([0-9a-f]{7,40})`)
	mergedAt    = regexp.MustCompile(`merged ![0-9]+ at ([0-9a-f]{7,40})`)
)

func (s *Server) trainPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.readTrain(r.Context())
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	s.render(w, r, http.StatusOK, "train", "Merge train", v)
}

func (s *Server) readTrain(ctx context.Context) (*trainView, error) {
	wf := s.cfg.Workflow
	v := &trainView{Target: wf.Repo.TargetBranch}
	var err error
	if v.State, err = s.cfg.Log.Target(ctx, v.Target); err != nil {
		return nil, err
	}
	if err := s.readLandings(ctx, v); err != nil {
		return nil, err
	}
	stages := wf.StagesWithRole(agentorg.RoleMerge)
	if len(stages) == 0 {
		return v, nil
	}
	st := stages[0]
	v.Stage, v.On = st.Name, st.On
	labels := []string{st.On}
	if st.Running != "" {
		labels = append(labels, st.Running)
	}
	g := wf.GateApproving(st.On)
	if g != nil {
		v.Gate = g.Name
		labels = append(labels, g.Waits)
	}
	issues, err := s.cfg.Tracker.ListIssues(ctx, agentorg.IssueFilter{State: agentorg.IssueOpen, AnyLabel: labels})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(issues, func(a, b agentorg.Issue) int { return int(a.Number - b.Number) })
	for _, is := range issues {
		c := trainCar{Issue: is.Number, Title: is.Title}
		switch {
		case st.Running != "" && slices.Contains(is.Labels, st.Running):
			c.Label = st.Running
		case slices.Contains(is.Labels, st.On):
			c.Label = st.On
		case g != nil:
			c.Label = g.Waits
		}
		mr, err := gate.IssueMR(ctx, s.cfg.Tracker, wf, is.Number)
		switch {
		case errors.Is(err, agentorg.ErrNotFound):
			c.Note = "no open merge request"
		case err != nil:
			return nil, err
		default:
			c.MR, c.Head = mr.Number, mr.HeadSHA
			for _, a := range mr.ApprovedAtHead() {
				c.Approvals = append(c.Approvals, a.User)
			}
			if g != nil {
				policy, err := role.PolicyApprovals(ctx, s.cfg.Log, is.Number, g)
				if err != nil {
					return nil, err
				}
				f, err := gate.GatherMR(ctx, s.cfg.Tracker, wf, g, mr, policy)
				if err != nil {
					return nil, err
				}
				c.ApprovedBy, _ = gate.ApprovedAt(g, f, mr.HeadSHA)
			}
		}
		if v.State.Closed && is.Number != v.State.RevertIssue {
			c.Note = joinNote(c.Note, "the target is closed: only the revert lands until E2E passes")
		}
		switch c.Label {
		case st.Running:
			v.Train = append(v.Train, c)
		case st.On:
			v.Ready = append(v.Ready, c)
		default:
			v.Approval = append(v.Approval, c)
		}
	}
	return v, nil
}

// readLandings reads the newest merges and the target's last E2E result:
// the one recorded at the newest landing that has one.
func (s *Server) readLandings(ctx context.Context, v *trainView) error {
	evs, err := s.cfg.Log.Events(ctx, eventlog.Filter{Kind: eventlog.KindMerge})
	if err != nil {
		return err
	}
	for i := len(evs) - 1; i >= 0 && len(v.Landings) < trainLandings; i-- {
		e := evs[i]
		if e.Data["merge_sha"] == "" {
			continue // an opened merge request, an auto-merge set
		}
		l := landing{Issue: e.Issue, MR: e.Data["mr"], MergeSHA: e.Data["merge_sha"], Train: e.Data["train"], Run: e.RunID, Reason: e.Reason, At: e.At}
		if m := validatedAs.FindStringSubmatch(e.Reason); m != nil {
			l.Validated = m[1]
		} else if m := mergedAt.FindStringSubmatch(e.Reason); m != nil {
			l.Validated = m[1]
		}
		v.Landings = append(v.Landings, l)
	}
	for i, l := range v.Landings {
		if i == e2eLookups {
			break
		}
		checks, err := s.cfg.Tracker.Checks(ctx, l.MergeSHA)
		if err != nil {
			return err
		}
		var found *agentorg.CheckResult
		for _, c := range checks {
			if c.Name == "e2e-rerun" || (c.Name == "e2e" && found == nil) {
				found = &c
			}
		}
		if found != nil {
			v.E2E = found
			if i > 0 {
				v.E2ENote = "E2E has not run yet at the newest landing; this is the result at an earlier one."
			}
			return nil
		}
	}
	if len(v.Landings) > 0 {
		v.E2ENote = "No E2E result at the last landings yet."
	}
	return nil
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
