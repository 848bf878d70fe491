// Package timeline renders the story of one issue for people: each state it
// went through and why, the verdicts, merges and escalations between them,
// every developer attempt with what validation found, and the review
// threads of its merge requests. The demo prints it for its issues and
// `agentorg issue show` for any issue.
package timeline

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
)

// Clock formats an event's time for the left column, six characters wide.
type Clock func(time.Time) string

// Since shows each time as the time elapsed since start: seconds with a
// tenth below 1000 s ("  4.3s", as the demo shows its run), then minutes,
// hours or days ("16m40s", " 2h03m", " 3d04h").
func Since(start time.Time) Clock {
	return func(t time.Time) string {
		d := t.Sub(start)
		switch {
		case d < 1000*time.Second:
			return fmt.Sprintf("%5.1fs", d.Seconds())
		case d < time.Hour:
			return fmt.Sprintf("%2dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
		case d < 100*time.Hour:
			return fmt.Sprintf("%2dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
		default:
			return fmt.Sprintf("%2dd%02dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
		}
	}
}

// Write prints issue n's timeline, its header left to the caller.
func Write(ctx context.Context, w io.Writer, tr agentorg.Tracker, log *eventlog.Log, n int64, clock Clock) error {
	evs, err := log.Events(ctx, eventlog.Filter{Issue: n})
	if err != nil {
		return err
	}
	for _, e := range evs {
		at := clock(e.At)
		switch e.Kind {
		case eventlog.KindTransition, eventlog.KindHuman:
			fmt.Fprintf(w, "  %s  %-22s %s (%s)\n", at, e.To, e.Reason, e.Actor)
		case eventlog.KindVerdict, eventlog.KindEscalate, eventlog.KindRefused, eventlog.KindMerge, eventlog.KindUpdate, eventlog.KindRecover, eventlog.KindTakeover:
			fmt.Fprintf(w, "  %s  %-22s %s\n", at, "  "+e.Kind, e.Reason)
		}
	}
	as, err := log.Attempts(ctx, n)
	if err != nil {
		return err
	}
	for _, a := range as {
		writeAttempt(w, a)
	}
	return writeThreads(ctx, w, tr, n)
}

func writeAttempt(w io.Writer, a eventlog.Attempt) {
	if a.Verdict == "" {
		// Still running, or its agent failed: say which.
		fmt.Fprintf(w, "  attempt %d: not validated, commit %.10s, session %s\n", a.N, orDash(a.CommitSHA), orDash(a.SessionID))
		if strings.HasPrefix(a.Summary, eventlog.FailurePrefix) {
			fmt.Fprintf(w, "             %s\n", oneLine(a.Summary))
		}
		return
	}
	fmt.Fprintf(w, "  attempt %d: %-5s distance %d, commit %.10s, session %s\n", a.N, a.Verdict, a.Distance, a.CommitSHA, a.SessionID)
	if a.Agent == eventlog.EngineAgent && a.FoundBy != "" {
		// No agent ran: the engine validated the work again.
		fmt.Fprintf(w, "             validated again by the %s stage\n", a.FoundBy)
	}
	for _, f := range a.Findings {
		note := ""
		if f.Target {
			// Shown, as in the report, but not in the distance (I11).
			note = " (fails on the target too: not counted)"
		}
		fmt.Fprintf(w, "             - %s%s\n", f.Key, note)
	}
	for _, line := range strings.Split(a.Report, "\n") {
		// The criteria table of the report: criterion, verdict, evidence.
		if strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| #") && !strings.HasPrefix(line, "| `") && !strings.HasPrefix(line, "| check") {
			fmt.Fprintf(w, "             %s\n", line)
		}
	}
}

// writeThreads shows the review threads of an issue's merge requests: who
// said what, and which threads are resolved.
func writeThreads(ctx context.Context, w io.Writer, tr agentorg.Tracker, n int64) error {
	rt, ok := tr.(agentorg.ReviewThreads)
	if !ok {
		return nil
	}
	mrs, err := tr.ListMRs(ctx, agentorg.MRFilter{Issue: n})
	if err != nil {
		return err
	}
	for _, mr := range mrs {
		ts, err := rt.Threads(ctx, mr.Number)
		if err != nil {
			return err
		}
		for _, th := range ts {
			where := "!" + fmt.Sprint(mr.Number)
			if th.Path != "" {
				where += fmt.Sprintf(" %s:%d", th.Path, th.Line)
			}
			state := "open"
			if th.Resolved {
				state = "resolved by " + th.ResolvedBy
			}
			fmt.Fprintf(w, "  review thread %s on %s (%s)\n", th.ID, where, state)
			for _, note := range th.Notes {
				fmt.Fprintf(w, "             %s: %s\n", note.Author, oneLine(agentorg.StripMarkers(note.Body)))
			}
		}
	}
	return nil
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
