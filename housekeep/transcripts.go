package housekeep

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/homedir"
)

// notePrefix starts the line gc leaves in place of a transcript whose run
// the event log still names: `agentorg logs` shows it, and fsck finds a
// file where the log says one is.
const notePrefix = "[agentorg gc: "

type runFile struct {
	id, path string
	size     int64
	mod      time.Time
	note     bool // already a note gc left
}

// transcripts removes the transcripts of runs older than before and,
// beyond the budget, the oldest, sparing open issues' runs: a run the
// event log still names keeps a one-line note, the others go.
func transcripts(ctx context.Context, s Sources, o Options, open map[int64]bool, before time.Time, w io.Writer) error {
	runIssue, err := s.Log.RunsKept(ctx, eventlog.Retention{Before: before, Keep: keys(open)})
	if err != nil {
		return err
	}
	files, err := listRuns(homedir.Runs(s.Home))
	if err != nil {
		return err
	}
	var total, kept int64
	var candidates []runFile
	for _, f := range files {
		total += f.size
		n, named := runIssue[f.id]
		if named && open[n] {
			kept += f.size
			continue
		}
		candidates = append(candidates, f)
	}
	sort.Slice(candidates, func(i, j int) bool { return candidates[i].mod.Before(candidates[j].mod) })
	var rest int64
	for _, f := range candidates {
		if !f.note {
			rest += f.size
		}
	}
	var noted, removed, freed int64
	left := int64(len(files))
	for _, f := range candidates {
		_, named := runIssue[f.id]
		overBudget := o.TranscriptBudget > 0 && kept+rest > o.TranscriptBudget
		switch {
		case f.note && !named:
			// A note whose run the log no longer names.
		case f.note || (!f.mod.Before(before) && !overBudget):
			continue
		}
		if !f.note {
			rest -= f.size
		}
		if named {
			note := fmt.Sprintf("%s%s: this run's transcript (%s, last written %s) was removed; older than the retention or beyond the budget]\n",
				notePrefix, o.Now.Format("2006-01-02"), size(f.size), f.mod.Format("2006-01-02"))
			freed += f.size - int64(len(note))
			noted++
			if !o.DryRun {
				if err := os.WriteFile(f.path, []byte(note), 0o644); err != nil {
					return err
				}
			}
			continue
		}
		freed += f.size
		removed++
		left--
		if !o.DryRun {
			if err := os.Remove(f.path); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(w, "  %-16s %8d -> %-8d files, %s -> %s  (%d left as a one-line note, %d removed; open issues' runs kept)\n",
		"transcripts", len(files), left, size(total), size(total-freed), noted, removed)
	return nil
}

// listRuns lists runs/*.log.
func listRuns(dir string) ([]runFile, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []runFile
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".log")
		if !ok || e.IsDir() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		f := runFile{id: id, path: filepath.Join(dir, e.Name()), size: fi.Size(), mod: fi.ModTime()}
		if fi.Size() < 512 {
			b, _ := os.ReadFile(f.path)
			f.note = bytes.HasPrefix(b, []byte(notePrefix))
		}
		out = append(out, f)
	}
	return out, nil
}
