package role

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/hygiene"
)

// A commit on an issue's branch that agentorg did not push (a teammate's
// fix, a reviewer's suggestion applied in the forge) is never thrown away:
// agentorg lands only what it validated, and it does not push over someone
// else's work. The issue goes to a human, told whose commit it is and what
// to do.

// foreignHead says, when head (the merge request's head, or the origin's
// branch) is a commit agentorg did not push for issue n, whose it is; ""
// when head is agentorg's own push or there is none.
func foreignHead(ctx context.Context, d *Deps, n int64, head string) (string, error) {
	if head == "" {
		return "", nil
	}
	as, err := d.Log.Attempts(ctx, n)
	if err != nil {
		return "", err
	}
	if slices.ContainsFunc(as, func(a eventlog.Attempt) bool { return a.Verdict == eventlog.GO && a.CommitSHA == head }) {
		return "", nil // agentorg's own push
	}
	return describeForeign(ctx, d, n, as, head), nil
}

// describeForeign names the commits at head that agentorg did not push,
// and what a person can do about them.
func describeForeign(ctx context.Context, d *Deps, n int64, as []eventlog.Attempt, head string) string {
	branch := d.Workflow.Branch(n)
	var who []string
	var ours string
	if d.Mirror.FetchBranch(ctx, branch) == nil {
		ours = lastPushedBelow(ctx, d, as, head)
		var cs []hygiene.Commit
		if ours != "" {
			cs, _ = d.Mirror.Commits(ctx, ours, head)
		}
		if len(cs) == 0 {
			if c, err := d.Mirror.Commit(ctx, head); err == nil {
				cs = []hygiene.Commit{c}
			}
		}
		for i, c := range cs {
			if i == 3 {
				who = append(who, fmt.Sprintf("and %d more", len(cs)-3))
				break
			}
			subject, _, _ := strings.Cut(strings.TrimSpace(c.Message), "\n")
			who = append(who, fmt.Sprintf("%s by %s <%s>: %q", short(c.SHA), c.Author.Name, c.Author.Email, subject))
		}
	}
	what := fmt.Sprintf("%s is at %s, a commit agentorg did not push", branch, short(head))
	if len(who) > 0 {
		what += " (" + strings.Join(who, "; ") + ")"
	}
	fix := "to go on, carry the change into the issue (a comment the developer will read) and reset the branch"
	if ours != "" {
		fix += " to agentorg's " + short(ours)
	}
	fix += ", or take the change over by hand"
	return what + ". agentorg lands only what it validated and never pushes over someone else's commit: " + fix
}

// lastPushedBelow is the newest commit agentorg pushed (of attempts as)
// that head was built on: where the branch was before someone else's commits;
// "" when head holds none of agentorg's.
func lastPushedBelow(ctx context.Context, d *Deps, as []eventlog.Attempt, head string) string {
	for i := len(as) - 1; i >= 0; i-- {
		if as[i].Verdict != eventlog.GO || as[i].CommitSHA == "" {
			continue
		}
		if ok, err := d.Mirror.IsAncestor(ctx, as[i].CommitSHA, head); err == nil && ok {
			return as[i].CommitSHA
		}
	}
	return ""
}

// foreignError is a merge request whose head is someone else's commit.
type foreignError struct{ why string }

func (e *foreignError) Error() string { return e.why }
