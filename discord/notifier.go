package discord

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/notify"
	"github.com/agentorg/agentorg/workflow"
)

// cursorName is the notifier's place in the event log.
const cursorName = "discord"

// Notifier turns the event log into messages: an event that needs a human
// opens a notice, posted once; every later event of its issue re-renders
// it, and the message is edited when what it shows changed. What was sent
// is recorded (eventlog notices) before it is sent, with a nonce Discord
// deduplicates on, so a restart neither loses nor repeats a message.
type Notifier struct {
	src     notify.Sources
	cfg     workflow.Discord
	out     poster
	actHere bool // people approve here (embedded tracker); on GitLab the buttons link there
	warn    func(string)
	failed  map[string]bool // notices whose last edit failed: tried again next pass
	wake    chan struct{}   // a pass now (after a person acted here), not at the next tick
	mu      sync.Mutex
	// recovered says a pass saw a step of E2E recovery: the E2E notices
	// are rendered again.
	recovered bool
}

// Wake asks for a pass now.
func (n *Notifier) Wake() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Sync does one pass: the events recorded since the last pass (the first
// pass of a new home starts at the log's end, with the issues that wait
// for a human now), the notices not sent yet, and the edits due. A notice
// that cannot be sent stays recorded and is tried again next pass; only
// the database failing stops it.
func (n *Notifier) Sync(ctx context.Context) error {
	n.mu.Lock() // one pass at a time: a flush and the loop
	defer n.mu.Unlock()
	log := n.src.Log
	after, ok, err := log.Cursor(ctx, cursorName)
	if err != nil {
		return err
	}
	touched := map[int64]bool{}
	if !ok {
		if after, err = n.bootstrap(ctx, touched); err != nil {
			return err
		}
	}
	for {
		evs, err := log.EventsAfter(ctx, after, eventlog.Filter{}, 500)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			if err := n.open(ctx, e); err != nil {
				return err
			}
			if e.Issue != 0 {
				touched[e.Issue] = true
			}
			if e.Kind == eventlog.KindRecover {
				// The target's state shows in every E2E notice, whichever
				// issue's run recorded the step.
				n.recovered = true
			}
			after = e.ID
		}
		if err := log.SetCursor(ctx, cursorName, after); err != nil {
			return err
		}
	}
	err = n.refresh(ctx, touched)
	n.recovered = false
	return err
}

// bootstrap starts a notifier on a home that has history: it notes the
// log's end as its place, and opens a notice for each open issue that
// waits for a human now (not one for every past event).
func (n *Notifier) bootstrap(ctx context.Context, touched map[int64]bool) (int64, error) {
	log, wf := n.src.Log, n.src.Workflow
	end, err := log.LastID(ctx)
	if err != nil {
		return 0, err
	}
	var labels []string
	for _, g := range wf.Gates {
		labels = append(labels, g.Waits)
	}
	labels = append(labels, wf.Escalation)
	open, err := n.src.Tracker.ListIssues(ctx, agentorg.IssueFilter{State: agentorg.IssueOpen, AnyLabel: labels})
	if err != nil {
		return 0, err
	}
	for _, is := range open {
		evs, err := log.Events(ctx, eventlog.Filter{Issue: is.Number})
		if err != nil {
			return 0, err
		}
		for i := len(evs) - 1; i >= 0; i-- {
			if _, ok := notify.Opens(wf, evs[i]); ok {
				if err := n.open(ctx, evs[i]); err != nil {
					return 0, err
				}
				touched[is.Number] = true
				break
			}
		}
	}
	if err := log.SetCursor(ctx, cursorName, end); err != nil {
		return 0, err
	}
	return end, nil
}

// open records and sends the notice event e opens, if it opens one the
// workflow does not mute.
func (n *Notifier) open(ctx context.Context, e eventlog.Event) error {
	kind, ok := notify.Opens(n.src.Workflow, e)
	if !ok || n.cfg.Muted(kind) {
		return nil
	}
	nb := make([]byte, 12)
	if _, err := rand.Read(nb); err != nil {
		return err
	}
	rec, fresh, err := n.src.Log.AddNotice(ctx, eventlog.Notice{
		Key: fmt.Sprintf("%s:%d:%d", kind, e.Issue, e.ID), Issue: e.Issue, Kind: kind, OpenedBy: e.ID,
		Channel: n.cfg.Channel(kind), Nonce: hex.EncodeToString(nb)[:24],
	})
	if err != nil {
		return err
	}
	if rec.MessageID == "" {
		n.send(ctx, rec, e, fresh)
	}
	return nil
}

// send posts a recorded notice that has no message yet. A failure is
// warned about; the notice is tried again next pass with the same nonce.
// A notice sent before (fresh false: a retry, or a restart after a crash
// mid-post) may come back as the message an earlier post made, showing
// what it showed then: it is recorded as showing nothing known, so that
// the next refresh edits it to the present.
func (n *Notifier) send(ctx context.Context, rec eventlog.Notice, opening eventlog.Event, fresh bool) {
	nt, err := notify.Build(ctx, n.src, opening)
	if err != nil {
		n.warn(fmt.Sprintf("notice %s: %v", rec.Key, err))
		return
	}
	m := render(nt, n.cfg, n.actHere)
	id, err := n.out.post(ctx, rec.Channel, m, rec.Nonce)
	if err != nil {
		n.warn(fmt.Sprintf("posting notice %s to channel %s: %s (tried again shortly)", rec.Key, rec.Channel, secrets.Redact(err.Error())))
		return
	}
	if id == "" {
		id = "-" // posted where messages have no id (a Slack webhook): never edited
	}
	hash := m.hash()
	if !fresh {
		hash = ""
		n.failed[rec.Key] = true
	}
	if err := n.src.Log.NoticeSent(ctx, rec.Key, id, hash, false); err != nil {
		n.warn(fmt.Sprintf("notice %s was posted as %s but not recorded: %v", rec.Key, id, err))
	}
}

// refresh re-renders the open notices of the issues touched, and of those
// whose last edit or post failed, and edits the messages that changed. A
// notice whose issue is closed is edited one last time and becomes final.
func (n *Notifier) refresh(ctx context.Context, touched map[int64]bool) error {
	recs, err := n.src.Log.Notices(ctx, 0)
	if err != nil {
		return err
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].OpenedBy < recs[j].OpenedBy })
	for _, rec := range recs {
		if !touched[rec.Issue] && !n.failed[rec.Key] && rec.MessageID != "" && (!n.recovered || rec.Kind != notify.KindE2E) {
			continue
		}
		opening, ok, err := n.opening(ctx, rec)
		if err != nil {
			return err
		}
		if !ok { // its event was pruned with its closed issue: nothing left to show
			if err := n.src.Log.NoticeSent(ctx, rec.Key, rec.MessageID, rec.Hash, true); err != nil {
				return err
			}
			continue
		}
		if rec.MessageID == "" {
			n.send(ctx, rec, opening, false)
			continue
		}
		if rec.MessageID == "-" {
			continue
		}
		nt, err := notify.Build(ctx, n.src, opening)
		if err != nil {
			n.warn(fmt.Sprintf("notice %s: %v", rec.Key, err))
			n.failed[rec.Key] = true
			continue
		}
		final := nt.IssueClosed
		m := render(nt, n.cfg, n.actHere)
		if h := m.hash(); h != rec.Hash {
			if err := n.out.edit(ctx, rec.Channel, rec.MessageID, m); err != nil {
				n.warn(fmt.Sprintf("editing message %s of notice %s: %s (tried again shortly)", rec.MessageID, rec.Key, secrets.Redact(err.Error())))
				n.failed[rec.Key] = true
				continue
			}
			rec.Hash = h
		}
		delete(n.failed, rec.Key)
		if err := n.src.Log.NoticeSent(ctx, rec.Key, rec.MessageID, rec.Hash, final); err != nil {
			return err
		}
	}
	return nil
}

// opening returns the event that opened a notice (false: it is no longer
// in the log).
func (n *Notifier) opening(ctx context.Context, rec eventlog.Notice) (eventlog.Event, bool, error) {
	evs, err := n.src.Log.EventsAfter(ctx, rec.OpenedBy-1, eventlog.Filter{Issue: rec.Issue}, 1)
	if err != nil || len(evs) == 0 || evs[0].ID != rec.OpenedBy {
		return eventlog.Event{}, false, err
	}
	return evs[0], true, nil
}

// Run syncs every interval until ctx ends. The first pass edits every open
// notice whose message may be stale (a restart does not know which edits
// the last run missed).
func (n *Notifier) Run(ctx context.Context, every time.Duration) error {
	recs, err := n.src.Log.Notices(ctx, 0)
	if err != nil {
		return err
	}
	for _, r := range recs {
		n.failed[r.Key] = true
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := n.Sync(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			n.warn("discord notifier: " + err.Error())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-n.wake:
		}
	}
}
