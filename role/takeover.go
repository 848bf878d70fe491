package role

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/homedir"
)

// Many workers (homes) may share one database. The developer resumes its
// agent session on the worker that holds the issue (homedir.Holder), whose
// disk keeps the session's files and the worktree. When that worker is
// gone, another one takes the issue over (docs/lifecycle.md I21): the work
// commit comes from the database (a bundle kept at each attempt), else
// from the branch agentorg pushed, else the issue starts again from the
// target; the attempt's agent starts a new session, told what the earlier
// attempts did.

// Sources of the commit a takeover restarts from (the event's "source").
const (
	fromBundle = "bundle" // the work kept in the database
	fromMirror = "mirror" // the work was in this home's mirror already
	fromBranch = "branch" // the issue's branch agentorg pushed to the origin
	fromTarget = "target" // no work to restore, or none could be
)

// keepWork keeps attempt's work commit sha of issue n in the database, for
// another worker to take the issue over with. Failing to keep it does not
// fail the attempt: the event log says so, and a takeover then starts
// from the pushed branch or the target.
func (d *Deps) keepWork(ctx context.Context, r *Run, n int64, attempt int, sha string) {
	if d.Owners == nil || !d.Owners.Shared {
		return // no other worker to take the issue over
	}
	w, err := d.Owners.KeepWork(ctx, d.Mirror, n, attempt, sha, d.targetRef())
	why := ""
	switch {
	case err != nil:
		why = fmt.Sprintf("attempt %d's work %s is not kept in the database (%s): another worker taking the issue over starts from the pushed branch or %s",
			attempt, short(sha), oneLine(err.Error()), d.Workflow.Repo.TargetBranch)
	case w.TooLarge:
		why = fmt.Sprintf("attempt %d's work %s is not kept in the database: its bundle, %d bytes, is over the cap; another worker taking the issue over starts from the pushed branch or %s",
			attempt, short(sha), w.Size, d.Workflow.Repo.TargetBranch)
	}
	if why != "" {
		_ = d.Log.Record(ctx, eventlog.Event{Issue: n, Stage: r.Stage.Name, RunID: r.ID, Actor: d.Workflow.Tracker.Bot,
			Kind: eventlog.KindHousekeep, Reason: why, Data: map[string]string{"attempt": fmt.Sprint(attempt), "commit": sha}})
	}
}

// haveWork makes sure the mirror has issue n's work commit sha, bringing
// it from the database when another worker made it: the last work kept
// holds every earlier attempt's too (attempts build on each other).
func (d *Deps) haveWork(ctx context.Context, n int64, sha string) error {
	if _, err := d.Mirror.Tree(ctx, sha); err == nil || d.Owners == nil {
		return nil // here, or no database of work to look in: the caller says what is missing
	}
	w, ok, err := d.Owners.LastWork(ctx, n)
	if err != nil || !ok {
		return err
	}
	return d.Owners.ImportWork(ctx, d.Mirror, w)
}

// haveHead makes sure the mirror has sha, the head of issue n's merge
// request on branch, which another worker may have made and pushed: from
// the origin's branch, else from the work kept in the database.
func (d *Deps) haveHead(ctx context.Context, n int64, sha, branch string) error {
	if _, err := d.Mirror.Tree(ctx, sha); err == nil {
		return nil
	}
	if err := d.Mirror.FetchBranch(ctx, branch); err == nil {
		if _, err := d.Mirror.Tree(ctx, sha); err == nil {
			return nil
		}
	}
	if err := d.haveWork(ctx, n, sha); err != nil {
		return err
	}
	if _, err := d.Mirror.Tree(ctx, sha); err != nil {
		return fmt.Errorf("#%d's merge request head %s is neither on the origin's %s nor kept in the database: %w", n, short(sha), branch, err)
	}
	return nil
}

// takeOver takes issue n over when the row names another worker: it brings
// the issue's work into this home's mirror, makes the attempt start a new
// agent session (Log.Restart: the session's files are on the other
// worker's disk), and records a takeover event naming the worker, the
// commit the attempt restarts from and why. It reports whether it took
// the issue over. A retry after a crash takes over again, saying it once.
func (d *Deps) takeOver(ctx context.Context, r *Run, attempt int) (bool, error) {
	n := r.Issue.Number
	h, ok, err := d.Owners.Holding(ctx, n)
	self := d.Owners.Self()
	if err != nil || !ok || h.Worker == "" || h.Worker == self {
		return false, err
	}
	commit, source, why, err := d.restoreWork(ctx, n, h)
	if err != nil {
		return false, err
	}
	if err := d.Log.Restart(ctx, n, attempt); err != nil {
		return false, err
	}
	if ev, found, err := takeoverOf(ctx, d, n, attempt); err != nil {
		return false, err
	} else if found && ev.Data["from"] == h.Worker && ev.Data["worker"] == self {
		return true, nil
	}
	err = d.Log.Record(ctx, eventlog.Event{Issue: n, Stage: r.Stage.Name, RunID: r.ID, Actor: d.Workflow.Tracker.Bot, Kind: eventlog.KindTakeover,
		Reason: fmt.Sprintf("worker %s takes the issue over from worker %s: %s; attempt %d starts a new agent session, the old one's files being on worker %s",
			self, h.Worker, why, attempt, h.Worker),
		Data: map[string]string{"from": h.Worker, "worker": self, "attempt": fmt.Sprint(attempt), "commit": commit, "source": source}})
	return true, err
}

// restoreWork brings issue n's last work into the mirror for a takeover
// from the worker h names, and says which commit the attempt restarts
// from, where it came from (fromBundle...) and why, in a sentence.
func (d *Deps) restoreWork(ctx context.Context, n int64, h homedir.Holding) (commit, source, why string, err error) {
	as, err := d.Log.Attempts(ctx, n)
	if err != nil {
		return "", "", "", err
	}
	var last eventlog.Attempt
	for i := len(as) - 1; i >= 0; i-- {
		if as[i].Work() != "" {
			last = as[i]
			break
		}
	}
	target := d.Workflow.Repo.TargetBranch
	if last.N == 0 {
		tip, err := d.Mirror.RemoteHead(ctx, target)
		if err != nil {
			return "", "", "", err
		}
		return tip, fromTarget, fmt.Sprintf("no attempt committed work yet: it starts from %s at %s", target, short(tip)), nil
	}
	work := last.Work()
	if _, err := d.Mirror.Tree(ctx, work); err == nil {
		return work, fromMirror, fmt.Sprintf("attempt %d's work %s is in this home's mirror", last.N, short(work)), nil
	}
	var lost string
	kept, ok, err := d.Owners.LastWork(ctx, n)
	switch {
	case err != nil:
		return "", "", "", err
	case !ok:
		lost = "the database keeps no bundle of it"
	case kept.SHA != work:
		lost = fmt.Sprintf("the database keeps attempt %d's work %s, not it", kept.Attempt, short(kept.SHA))
	case kept.TooLarge:
		lost = fmt.Sprintf("its bundle, %d bytes, was over the cap and not kept", kept.Size)
	default:
		if err := d.Owners.ImportWork(ctx, d.Mirror, kept); err != nil {
			lost = "its bundle did not import: " + oneLine(err.Error())
			break
		}
		return work, fromBundle, fmt.Sprintf("attempt %d's work %s comes from the bundle worker %s kept in the database", last.N, short(work), kept.Worker), nil
	}
	if h.Pushed {
		branch := d.Workflow.Branch(n)
		sha, found, err := d.Mirror.OriginBranch(ctx, branch)
		if err != nil {
			return "", "", "", err
		}
		if found {
			if err := d.Mirror.FetchBranch(ctx, branch); err != nil {
				return "", "", "", err
			}
			if _, err := d.Mirror.Tree(ctx, sha); err == nil {
				return sha, fromBranch, fmt.Sprintf("attempt %d's work %s cannot be restored (%s): it restarts from branch %s agentorg pushed to the origin, at %s",
					last.N, short(work), lost, branch, short(sha)), nil
			}
		}
	}
	tip, err := d.Mirror.RemoteHead(ctx, target)
	if err != nil {
		return "", "", "", err
	}
	return tip, fromTarget, fmt.Sprintf("attempt %d's work %s is lost (%s, and agentorg pushed no branch of it): it starts again from %s at %s",
		last.N, short(work), lost, target, short(tip)), nil
}

// takeoverOf returns the takeover event of issue n's attempt, if a worker
// took the issue over for it.
func takeoverOf(ctx context.Context, d *Deps, n int64, attempt int) (eventlog.Event, bool, error) {
	evs, err := d.Log.Events(ctx, eventlog.Filter{Issue: n, Kind: eventlog.KindTakeover})
	if err != nil {
		return eventlog.Event{}, false, err
	}
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Data["attempt"] == fmt.Sprint(attempt) {
			return evs[i], true, nil
		}
	}
	return eventlog.Event{}, false, nil
}

// Bounds of the history a new session is told on a takeover.
const (
	historyAttempts = 5     // the last attempts told
	historySummary  = 600   // characters of each attempt's summary
	historyFindings = 8     // findings of each attempt
	historyFinding  = 240   // characters of each finding
	historyPlan     = 6000  // characters of the plan
	historyMax      = 16000 // characters of the whole: the oldest attempts go first
)

// takeoverText is what a new session on an issue taken over is told
// besides its prompt (text): that the earlier session is gone, what the
// working tree holds, the earlier attempts (number, verdict, summary,
// findings: the last historyAttempts, fewer when they would not fit in
// historyMax) and the plan, when the prompt does not hold it already.
func takeoverText(ctx context.Context, d *Deps, n int64, attempt int, ev eventlog.Event, plan, text string) (string, error) {
	as, err := d.Log.Attempts(ctx, n)
	if err != nil {
		return "", err
	}
	var head strings.Builder
	head.WriteString("\n\n## Taken over from another worker\n\n")
	fmt.Fprintf(&head, "The agent session that worked on this issue so far ran on another machine (worker %s), which is gone: you start a new session, "+
		"and its conversation is not here. ", ev.Data["from"])
	commit := short(ev.Data["commit"])
	switch ev.Data["source"] {
	case fromBundle, fromMirror:
		fmt.Fprintf(&head, "This working tree holds the work it committed (%s); files it left uncommitted are not here.\n", commit)
	case fromBranch:
		fmt.Fprintf(&head, "Its latest work could not be brought here: this working tree holds the branch last pushed to the origin (%s), which may lack its later changes.\n", commit)
	default:
		fmt.Fprintf(&head, "No work of it could be brought here: this working tree starts from %s (%s).\n", d.Workflow.Repo.TargetBranch, commit)
	}
	tail := ""
	if plan = strings.TrimSpace(plan); plan != "" && !strings.Contains(text, plan) {
		tail = "\nThe approved plan:\n\n" + clip(plan, historyPlan) + "\n"
	}
	var entries []string
	total := 0
	for _, a := range as {
		if a.N < attempt {
			e := attemptText(a)
			entries = append(entries, e)
			total += utf8.RuneCountInString(e)
		}
	}
	all := len(entries)
	room := historyMax - utf8.RuneCountInString(head.String()+tail) - 100 // the line saying how many are told
	for len(entries) > 1 && (len(entries) > historyAttempts || total > room) {
		total -= utf8.RuneCountInString(entries[0])
		entries = entries[1:]
	}
	var b strings.Builder
	b.WriteString(head.String())
	switch {
	case len(entries) < all:
		fmt.Fprintf(&b, "\nThe last %d of its %d attempts, oldest first:\n\n", len(entries), all)
	case all > 0:
		b.WriteString("\nIts attempts, oldest first:\n\n")
	}
	for _, e := range entries {
		b.WriteString(e)
	}
	b.WriteString(tail)
	return clip(b.String(), historyMax), nil
}

// attemptText is an earlier attempt as takeoverText tells it: its number,
// verdict, summary and findings, bounded.
func attemptText(a eventlog.Attempt) string {
	var b strings.Builder
	verdict := a.Verdict
	if verdict == "" {
		verdict = "not validated"
	} else if a.Distance >= 0 {
		verdict = fmt.Sprintf("%s, distance %d", verdict, a.Distance)
	}
	fmt.Fprintf(&b, "- Attempt %d (%s).", a.N, verdict)
	if s := strings.TrimSpace(a.Summary); s != "" {
		fmt.Fprintf(&b, " Its summary: %s", quoteLine(s, historySummary))
	}
	b.WriteString("\n")
	for i, f := range a.Findings {
		if i == historyFindings {
			fmt.Fprintf(&b, "  - and %d more\n", len(a.Findings)-i)
			break
		}
		fmt.Fprintf(&b, "  - found: %s\n", quoteLine(f.Text, historyFinding))
	}
	return b.String()
}

// quoteLine is s on one line, cut to max characters.
func quoteLine(s string, max int) string {
	return clip(strings.Join(strings.Fields(s), " "), max)
}

// clip cuts s to max characters, saying so.
func clip(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max]) + "… (cut)"
}
