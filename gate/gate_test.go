package gate

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/workflow"
)

const (
	bot  = "agentorg-bot"
	head = "0123456789abcdef"
	old  = "fedcba9876543210"
)

var (
	planGate    = &workflow.Gate{Name: "plan", Waits: "plan:review", Approve: "issue:approved", Approvers: []string{"alice"}}
	mrGate      = &workflow.Gate{Name: "merge", Waits: "mr:ready-for-review", Approve: "mr:approved", Approvers: []string{"alice"}, MergeRequest: true}
	levelGate   = &workflow.Gate{Name: "plan", Waits: "plan:review", Approve: "issue:approved", MinAccessLevel: agentorg.AccessMaintainer}
	levelMRGate = &workflow.Gate{Name: "merge", Waits: "mr:ready-for-review", Approve: "mr:approved", MinAccessLevel: agentorg.AccessMaintainer, MergeRequest: true}
)

func label(actor string) *agentorg.LabelEvent {
	return &agentorg.LabelEvent{ID: 1, Label: "mr:approved", Action: agentorg.LabelAdded, Actor: actor}
}

func mr(approvals ...agentorg.Approval) *agentorg.MergeRequest {
	return &agentorg.MergeRequest{Number: 3, Issue: 7, HeadSHA: head, State: agentorg.MROpen, Approvals: approvals}
}

func at(user, sha string) agentorg.Approval { return agentorg.Approval{User: user, SHA: sha} }

var levels = map[string]agentorg.AccessLevel{"alice": agentorg.AccessMaintainer, "devon": agentorg.AccessDeveloper, bot: agentorg.AccessOwner}

// Every rule of MayApprove: the bot never, whatever its level; approvers
// by name; by level when the tracker tells it, and saying so when not.
func TestMayApprove(t *testing.T) {
	for _, tc := range []struct {
		name  string
		g     *workflow.Gate
		user  string
		level agentorg.AccessLevel
		known bool
		ok    bool
		why   string
	}{
		{"nobody", planGate, "", 0, false, false, "nobody is named"},
		{"the bot, named", &workflow.Gate{Name: "plan", Approvers: []string{bot}}, bot, 0, false, false, bot + " is the bot; only a human may approve"},
		{"the bot as owner", levelGate, bot, agentorg.AccessOwner, true, false, bot + " is the bot; only a human may approve"},
		{"an approver by name", planGate, "alice", 0, false, true, ""},
		{"not an approver", planGate, "mallory", 0, false, false, `mallory is not an approver of gate "plan" (allowed: alice)`},
		{"level unknown to the tracker", levelGate, "alice", 0, false, false, `gate "plan" allows by access level, which this tracker cannot tell`},
		{"at the level", levelGate, "alice", agentorg.AccessMaintainer, true, true, ""},
		{"above the level", levelGate, "olga", agentorg.AccessOwner, true, true, ""},
		{"below the level", levelGate, "devon", agentorg.AccessDeveloper, true, false,
			`devon has developer access in the project; gate "plan" needs maintainer or above (allowed: anyone with maintainer access or above in the project)`},
		{"named beside a level", &workflow.Gate{Name: "plan", Approvers: []string{"bob"}, MinAccessLevel: agentorg.AccessMaintainer}, "bob", agentorg.AccessGuest, true, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, why := MayApprove(tc.g, bot, tc.user, tc.level, tc.known)
			if ok != tc.ok || why != tc.why {
				t.Fatalf("MayApprove(%q) = %v, %q; want %v, %q", tc.user, ok, why, tc.ok, tc.why)
			}
		})
	}
}

// Every rule of Decide, with today's refusal texts.
func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		name    string
		g       *workflow.Gate
		f       Facts
		holds   bool
		actor   string
		reason  string // a substring of the reason; "" when it holds
		reached bool
	}{
		{"no label event", planGate, Facts{}, false, "", "nobody is recorded adding issue:approved", true},
		{"the bot's label", planGate, Facts{Label: label(bot)}, false, "", "issue:approved was added by the bot (agentorg-bot); only a human may approve", true},
		{"the bot's label, an owner", levelGate, Facts{Label: label(bot), Levels: levels, LevelsKnown: true}, false, "", "only a human may approve", true},
		{"an approver's label", planGate, Facts{Label: label("alice")}, true, "alice", "", true},
		{"a stranger's label", planGate, Facts{Label: label("mallory")}, false, "",
			`issue:approved was added by mallory, who may not approve: mallory is not an approver of gate "plan" (allowed: alice)`, true},
		{"a maintainer's label", levelGate, Facts{Label: label("alice"), Levels: levels, LevelsKnown: true}, true, "alice", "", true},
		{"a developer's label", levelGate, Facts{Label: label("devon"), Levels: levels, LevelsKnown: true}, false, "",
			`devon has developer access in the project; gate "plan" needs maintainer or above`, true},
		{"levels the tracker cannot tell", levelGate, Facts{Label: label("alice")}, false, "",
			`gate "plan" allows by access level, which this tracker cannot tell`, true},
		{"no merge request yet", mrGate, Facts{Issue: 7, Label: label("alice")}, false, "",
			"mr:approved was added by alice, but #7 has no merge request to approve yet", false},
		{"approved at the head", mrGate, Facts{Label: label("alice"), MR: mr(at("alice", head))}, true, "alice", "", true},
		{"approved at an old head only", mrGate, Facts{Label: label("alice"), MR: mr(at("alice", old))}, false, "",
			"merge request !3 has no approval by an allowed approver (alice) at its head 0123456789 (an approval is void once new commits land)", true},
		{"not approved", mrGate, Facts{Label: label("alice"), MR: mr()}, false, "", "merge request !3 has no approval by an allowed approver", true},
		{"the label's author is not enough", mrGate, Facts{Label: label("alice"), MR: mr(at(bot, head))}, false, "",
			"mr:approved was added by alice, who may approve; but at its head 0123456789, merge request !3 is approved only by someone who may not: agentorg-bot is the bot; only a human may approve", true},
		{"approved at the head by a developer", levelMRGate, Facts{Label: label("alice"), MR: mr(at("devon", head)), Levels: levels, LevelsKnown: true}, false, "",
			"mr:approved was added by alice (maintainer access), who may approve; but at its head 0123456789, merge request !3 is approved only by someone who may not: devon has developer access", true},
		{"approved at the head by a maintainer", levelMRGate, Facts{Label: label("alice"), MR: mr(at("devon", head), at("alice", head)), Levels: levels, LevelsKnown: true}, true, "alice", "", true},
		{"the label by one, the approval by another", &workflow.Gate{Name: "merge", Approve: "mr:approved", Approvers: []string{"alice", "bob"}, MergeRequest: true},
			Facts{Label: label("alice"), MR: mr(at("bob", head))}, true, "alice", "", true},

		// Policy approvals.
		{"the bot's label with a policy approval at the head", mrGate,
			Facts{Bot: bot, Label: label(bot), MR: mr(), Policy: []PolicyApproval{{Rule: "docs-only", SHA: head}}}, true, "policy:docs-only", "", true},
		{"the bot's label with a policy approval at an old head", mrGate,
			Facts{Bot: bot, Label: label(bot), MR: mr(), Policy: []PolicyApproval{{Rule: "docs-only", SHA: old}}}, false, "", "mr:approved was added by the bot (agentorg-bot); only a human may approve", true},
		{"the bot's label with a policy approval, no merge request", mrGate,
			Facts{Bot: bot, Label: label(bot), Policy: []PolicyApproval{{Rule: "docs-only", SHA: head}}}, false, "", "only a human may approve", true},
		{"a policy approval on a plan gate", planGate,
			Facts{Bot: bot, Label: label(bot), MR: mr(), Policy: []PolicyApproval{{Rule: "docs-only", SHA: head}}}, false, "", "only a human may approve", true},
		{"a policy approval is not a person's label", mrGate,
			Facts{Bot: bot, Label: label("mallory"), MR: mr(), Policy: []PolicyApproval{{Rule: "docs-only", SHA: head}}}, false, "", "mallory, who may not approve", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			if f.Bot == "" {
				f.Bot = bot
			}
			v := Decide(tc.g, f)
			if v.Holds != tc.holds || v.Actor != tc.actor || v.Reached != tc.reached {
				t.Fatalf("Decide = %+v; want holds %v, actor %q, reached %v", v, tc.holds, tc.actor, tc.reached)
			}
			if tc.holds && v.Reason != "" {
				t.Fatalf("a verdict that holds gives a reason: %q", v.Reason)
			}
			if !tc.holds && (tc.reason == "" || !strings.Contains(v.Reason, tc.reason)) {
				t.Fatalf("reason %q; want it to contain %q", v.Reason, tc.reason)
			}
		})
	}
}

// ApprovedAt counts an allowed person's approval or a policy approval at
// the given head only, never the bot's.
func TestApprovedAt(t *testing.T) {
	docs := []PolicyApproval{{Rule: "docs-only", SHA: head}}
	for _, tc := range []struct {
		name  string
		g     *workflow.Gate
		f     Facts
		sha   string
		actor string
	}{
		{"an approver at the head", mrGate, Facts{MR: mr(at("alice", head))}, head, "alice"},
		{"an approver at another head", mrGate, Facts{MR: mr(at("alice", old))}, head, ""},
		{"at the sha asked, not the head", mrGate, Facts{MR: mr(at("alice", old))}, old, "alice"},
		{"the bot", &workflow.Gate{Name: "merge", Approvers: []string{bot}, MergeRequest: true}, Facts{MR: mr(at(bot, head))}, head, ""},
		{"a stranger", mrGate, Facts{MR: mr(at("mallory", head))}, head, ""},
		{"a developer, then a maintainer", levelMRGate, Facts{MR: mr(at("devon", head), at("alice", head)), Levels: levels, LevelsKnown: true}, head, "alice"},
		{"a policy approval at the sha", mrGate, Facts{MR: mr(), Policy: docs}, head, "policy:docs-only"},
		{"a person before a policy", mrGate, Facts{MR: mr(at("alice", head)), Policy: docs}, head, "alice"},
		{"a policy approval at another sha", mrGate, Facts{MR: mr(), Policy: docs}, old, ""},
		{"a policy approval on a plan gate", planGate, Facts{MR: mr(), Policy: docs}, head, ""},
		{"no merge request", mrGate, Facts{}, head, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.f.Bot = bot
			actor, ok := ApprovedAt(tc.g, tc.f, tc.sha)
			if actor != tc.actor || ok != (tc.actor != "") {
				t.Fatalf("ApprovedAt = %q, %v; want %q", actor, ok, tc.actor)
			}
		})
	}
}

// HeadRefusals names each approval at the head that does not count, and
// none once one does; approvals at an old head are not its business.
func TestHeadRefusals(t *testing.T) {
	f := Facts{Bot: bot, MR: mr(at("mallory", head), at("alice", old), at(bot, head)), Levels: levels}
	counted, refused := HeadRefusals(mrGate, f)
	if counted || len(refused) != 2 || !strings.HasPrefix(refused[0], "mallory is not an approver") || !strings.Contains(refused[1], "is the bot") {
		t.Fatalf("HeadRefusals = %v, %q", counted, refused)
	}
	f.MR.Approvals = append(f.MR.Approvals, at("alice", head))
	if counted, refused := HeadRefusals(mrGate, f); !counted || refused != nil {
		t.Fatalf("with alice at the head: %v, %q", counted, refused)
	}
}

// fakeTracker answers what Gather asks; anything else panics.
type fakeTracker struct {
	agentorg.Tracker
	events []agentorg.LabelEvent
	mrs    []agentorg.MergeRequest
	asked  []string
}

func (f *fakeTracker) LabelEvents(context.Context, int64) ([]agentorg.LabelEvent, error) {
	return f.events, nil
}

func (f *fakeTracker) ListMRs(_ context.Context, q agentorg.MRFilter) ([]agentorg.MergeRequest, error) {
	var out []agentorg.MergeRequest
	for _, m := range f.mrs {
		if m.Issue == q.Issue && m.SourceBranch == q.SourceBranch {
			out = append(out, m)
		}
	}
	return out, nil
}

type fakeForge struct{ *fakeTracker }

func (f fakeForge) AccessLevel(_ context.Context, user string) (agentorg.AccessLevel, error) {
	f.asked = append(f.asked, user)
	return levels[user], nil
}

// Gather reads the last label event adding the approve label, the
// issue's open merge request, and the levels of the people involved (never
// the bot's); Decide then says what the engine says.
func TestGather(t *testing.T) {
	ctx := context.Background()
	w := &workflow.Workflow{}
	w.Tracker.Bot = bot
	w.Repo.BranchPrefix = "agentorg/issue-"
	ft := &fakeTracker{
		events: []agentorg.LabelEvent{
			{ID: 1, Label: "mr:approved", Action: agentorg.LabelAdded, Actor: "devon"},
			{ID: 2, Label: "mr:approved", Action: agentorg.LabelRemoved, Actor: bot},
			{ID: 3, Label: "mr:approved", Action: agentorg.LabelAdded, Actor: "alice"},
			{ID: 4, Label: "other", Action: agentorg.LabelAdded, Actor: "mallory"},
		},
		mrs: []agentorg.MergeRequest{
			{Number: 2, Issue: 7, SourceBranch: "agentorg/issue-7", State: agentorg.MRClosed},
			{Number: 3, Issue: 7, SourceBranch: "agentorg/issue-7", State: agentorg.MROpen, HeadSHA: head,
				Approvals: []agentorg.Approval{at(bot, head), at("devon", head)}},
		},
	}
	forge := fakeForge{ft}
	f, err := Gather(ctx, forge, w, levelMRGate, 7, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.Label == nil || f.Label.ID != 3 || f.MR == nil || f.MR.Number != 3 || !f.LevelsKnown || f.Issue != 7 || f.Bot != bot {
		t.Fatalf("facts %+v", f)
	}
	if strings.Join(ft.asked, ",") != "alice,devon" {
		t.Fatalf("levels asked of %q; want alice and devon, never the bot", ft.asked)
	}
	if v := Decide(levelMRGate, f); v.Holds || !strings.Contains(v.Reason, "added by alice (maintainer access), who may approve") {
		t.Fatalf("verdict %+v", v)
	}

	// A tracker without levels: known is false, nobody is asked.
	f, err = Gather(ctx, ft, w, mrGate, 7, []PolicyApproval{{Rule: "docs-only", SHA: head}})
	if err != nil || f.LevelsKnown || f.Levels != nil || len(f.Policy) != 1 {
		t.Fatalf("facts %+v, %v", f, err)
	}
	// No merge request: not reached.
	f, err = Gather(ctx, ft, w, mrGate, 8, nil)
	if err != nil || f.MR != nil {
		t.Fatalf("facts %+v, %v", f, err)
	}
	if v := Decide(mrGate, f); v.Holds || v.Reached {
		t.Fatalf("verdict %+v", v)
	}
	if _, err := IssueMR(ctx, ft, w, 8); !errors.Is(err, agentorg.ErrNotFound) {
		t.Fatalf("IssueMR of an issue without one: %v", err)
	}
}
