// Package transcript finds and prints the transcripts of stage runs: the raw
// output of the agents and checks a run started, kept at
// <home>/runs/<run id>.log (role.TranscriptPath). Runs are found through the
// event log, which names the run of every step it records: by a prefix of
// the run id, or by issue and developer attempt.
package transcript

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/role"
)

// Run is one stage run and where its transcript is.
type Run struct {
	ID    string
	Issue int64
	Stage string
	At    time.Time // its first event
	// Attempts are the developer attempts the run worked on or validated
	// (none for a plan, a merge without validation, an E2E run).
	Attempts []int
	Path     string
}

// maxCandidates bounds the runs an error lists.
const maxCandidates = 10

// Find returns the run whose id starts with prefix, as `git` takes a commit:
// a prefix that names no run, or more than one, is an error listing the
// candidates.
func Find(ctx context.Context, log *eventlog.Log, home, prefix string) (Run, error) {
	prefix = strings.TrimSpace(prefix)
	if prefix == "" {
		return Run{}, errors.New("no run id given")
	}
	refs, err := log.FindRuns(ctx, prefix, maxCandidates+1)
	if err != nil {
		return Run{}, err
	}
	for _, r := range refs {
		if r.ID == prefix {
			return withAttempts(ctx, log, home, r)
		}
	}
	switch {
	case len(refs) == 1:
		return withAttempts(ctx, log, home, refs[0])
	case len(refs) > 1:
		return Run{}, fmt.Errorf("run id prefix %q is ambiguous; it starts these runs:\n%s\nGive more of the id", prefix, list(refs))
	}
	// A transcript without events (its run's events were never recorded).
	if _, err := os.Stat(role.TranscriptPath(home, prefix)); err == nil {
		return Run{ID: prefix, Path: role.TranscriptPath(home, prefix)}, nil
	}
	recent, err := log.FindRuns(ctx, "", 5)
	if err != nil {
		return Run{}, err
	}
	if len(recent) == 0 {
		return Run{}, fmt.Errorf("no run id starts with %q: nothing has run in this home yet", prefix)
	}
	return Run{}, fmt.Errorf("no run id starts with %q; the latest runs are:\n%s\n(`agentorg events --wide` shows every event's run)", prefix, list(recent))
}

func list(refs []eventlog.RunRef) string {
	var b strings.Builder
	for i, r := range refs {
		if i == maxCandidates {
			b.WriteString("  ...\n")
			break
		}
		fmt.Fprintf(&b, "  %s  #%d %s, %s\n", r.ID, r.Issue, orDash(r.Stage), r.At.Local().Format("2006-01-02 15:04:05"))
	}
	return strings.TrimRight(b.String(), "\n")
}

// withAttempts is the run r names, with the attempts OfIssue finds for it.
func withAttempts(ctx context.Context, log *eventlog.Log, home string, r eventlog.RunRef) (Run, error) {
	runs, err := OfIssue(ctx, log, home, r.Issue, 0)
	if err != nil {
		return Run{}, err
	}
	for _, got := range runs {
		if got.ID == r.ID {
			return got, nil
		}
	}
	return Run{ID: r.ID, Issue: r.Issue, Stage: r.Stage, At: r.At, Path: role.TranscriptPath(home, r.ID)}, nil
}

// OfIssue lists the runs of issue n in the order they started, each with
// the attempts it worked on: those its events name, and the attempt it
// started (eventlog.Attempt.RunID). attempt > 0 keeps only that attempt's
// runs: its developer run and its validation.
func OfIssue(ctx context.Context, log *eventlog.Log, home string, n int64, attempt int) ([]Run, error) {
	evs, err := log.Events(ctx, eventlog.Filter{Issue: n})
	if err != nil {
		return nil, err
	}
	as, err := log.Attempts(ctx, n)
	if err != nil {
		return nil, err
	}
	var runs []*Run
	byID := map[string]*Run{}
	for _, e := range evs {
		if e.RunID == "" {
			continue
		}
		r := byID[e.RunID]
		if r == nil {
			r = &Run{ID: e.RunID, Issue: n, Stage: e.Stage, At: e.At, Path: role.TranscriptPath(home, e.RunID)}
			byID[e.RunID] = r
			runs = append(runs, r)
		}
		if k, err := strconv.Atoi(e.Data["attempt"]); err == nil {
			r.addAttempt(k)
		}
	}
	for _, a := range as {
		if r := byID[a.RunID]; r != nil {
			r.addAttempt(a.N)
		}
	}
	out := []Run{}
	for _, r := range runs {
		if attempt == 0 || slices.Contains(r.Attempts, attempt) {
			out = append(out, *r)
		}
	}
	if attempt > 0 && len(out) == 0 {
		var ns []string
		for _, a := range as {
			ns = append(ns, strconv.Itoa(a.N))
		}
		if len(ns) == 0 {
			return nil, fmt.Errorf("#%d has no developer attempts", n)
		}
		return nil, fmt.Errorf("#%d has no runs of attempt %d; its attempts are %s", n, attempt, strings.Join(ns, ", "))
	}
	return out, nil
}

func (r *Run) addAttempt(k int) {
	if k > 0 && !slices.Contains(r.Attempts, k) {
		r.Attempts = append(r.Attempts, k)
		slices.Sort(r.Attempts)
	}
}

// Header is the line that introduces a run's transcript.
func (r Run) Header() string {
	var parts []string
	if r.Issue != 0 {
		parts = append(parts, fmt.Sprintf("#%d", r.Issue))
	}
	if r.Stage != "" {
		parts = append(parts, r.Stage)
	}
	for _, k := range r.Attempts {
		parts = append(parts, fmt.Sprintf("attempt %d", k))
	}
	parts = append(parts, "run "+r.ID)
	if !r.At.IsZero() {
		parts = append(parts, r.At.Local().Format("2006-01-02 15:04:05"))
	}
	return "=== " + strings.Join(parts, ", ") + " ==="
}

// Write prints the run's header and its transcript, or says plainly that
// there is none.
func Write(w io.Writer, r Run) error {
	if _, err := fmt.Fprintln(w, r.Header()); err != nil {
		return err
	}
	f, err := os.Open(r.Path)
	if errors.Is(err, os.ErrNotExist) {
		_, err = fmt.Fprintf(w, "(no transcript: %s does not exist; this run started no agent or check, or the file was removed)\n", r.Path)
		return err
	}
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if info.Size() == 0 {
		_, err = fmt.Fprintf(w, "(the transcript %s is empty)\n", r.Path)
		return err
	}
	lw := &lastByte{w: w}
	if _, err := io.Copy(lw, f); err != nil {
		return err
	}
	if lw.last != '\n' {
		_, err = fmt.Fprintln(w) // the next header starts a line of its own
	}
	return err
}

// lastByte passes writes through and remembers the last byte written.
type lastByte struct {
	w    io.Writer
	last byte
}

func (l *lastByte) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	if n > 0 {
		l.last = p[n-1]
	}
	return n, err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
