package board

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/agentorg/agentorg/eventfmt"
)

// Width is the columns the text fits in.
const Width = 100

// WriteText prints the board for people, each line at most Width columns.
func (b *Board) WriteText(w io.Writer) error {
	out := &cutter{w: w}
	alive := 0
	for _, w := range b.Workers {
		if w.Alive {
			alive++
		}
	}
	switch {
	case len(b.Workers) > 0:
		var names []string
		for _, w := range b.Workers[:alive] {
			names = append(names, w.ID+"@"+w.Host)
		}
		out.line("workers  %d alive of %d on the shared database: %s", alive, len(b.Workers), strings.Join(names, ", "))
	case b.EnginePID > 0:
		out.line("engine   running (pid %d)", b.EnginePID)
	default:
		out.line("engine   not running: start it with `agentorg serve` (or `agentorg serve --once`)")
	}
	open := len(b.Outside)
	for _, s := range b.States {
		open += len(s.Issues)
	}
	out.line("issues   %d open: %d running, %d waiting for a human, %d escalated, %d failed, %d not opted in",
		open, len(b.Running), len(b.Waiting), len(b.Escalated), len(b.Failed), len(b.Outside))
	if c := b.Closed; c != nil {
		lands := "nothing lands until E2E passes"
		if c.Revert != 0 {
			lands = fmt.Sprintf("only the revert #%d lands until E2E passes", c.Revert)
		}
		out.line("target   %s CLOSED since %s: %s; %s", c.Branch, c.Since.Local().Format("15:04:05"), eventfmt.OneLine(c.Reason), lands)
	}

	var rows [][]string
	for _, s := range b.States {
		if len(s.Issues) > 0 {
			rows = append(rows, []string{s.Label, strconv.Itoa(len(s.Issues)), issueList(s.Issues)})
		}
	}
	if len(rows) > 0 {
		out.line("")
		out.table("STATE\tOPEN\tISSUES", rows)
	}

	out.line("")
	if len(b.Running) == 0 {
		out.line("RUNNING NOW: nothing")
	} else {
		out.line("RUNNING NOW")
		rows = nil
		for _, r := range b.Running {
			beat := "heartbeat " + Ago(b.At, r.Heartbeat) + " ago"
			if r.Stale {
				beat += ": its engine stopped beating; the next start releases it"
			}
			rows = append(rows, []string{fmt.Sprintf("#%d", r.Issue), r.Stage, "for " + Ago(b.At, r.Since), "run " + shortRun(r.RunID), beat})
		}
		out.table("", rows)
	}

	if len(b.Workers) > 0 {
		out.line("")
		out.line("WORKERS")
		for _, w := range b.Workers {
			if w.Alive {
				out.line("%s@%s  alive, beat %s ago", w.ID, w.Host, Ago(b.At, w.Beat))
			} else {
				out.line("%s@%s  silent for %s", w.ID, w.Host, Ago(b.At, w.Beat))
			}
			out.para("   ", "runs "+workerRuns(b, w.Running))
			if len(w.Holds) > 0 {
				out.para("   ", "holds "+issueList(w.Holds))
			} else {
				out.line("   holds no open issue")
			}
		}
	}

	if len(b.Waiting) > 0 {
		out.line("")
		out.line("WAITING FOR A HUMAN")
		for _, wt := range b.Waiting {
			out.line("#%d %s", wt.Issue, wt.Title)
			out.line("   at gate %s (%s) for %s; %s may approve: %s", wt.Gate, wt.Label, Ago(b.At, wt.Since), wt.Who, wt.How)
			if wt.Rules != "" {
				out.para("   ", wt.Rules)
			}
		}
	}

	if len(b.Held) > 0 {
		out.line("")
		out.line("HELD: A STAGE WAITS")
		for _, h := range b.Held {
			out.line("#%d %s (%s, for %s)", h.Issue, h.Title, h.Stage, Ago(b.At, h.Since))
			out.para("   ", h.Reason)
		}
	}

	if len(b.Retrying) > 0 {
		out.line("")
		out.line("RETRYING")
		for _, r := range b.Retrying {
			out.line("#%d %s (%s, retries at %s)", r.Issue, r.Title, r.Stage, r.At.Local().Format("15:04:05"))
			out.para("   ", r.Reason)
		}
	}

	if len(b.Budgets) > 0 {
		out.line("")
		out.line("ATTEMPTS AND BUDGET")
		rows = nil
		for _, bu := range b.Budgets {
			dist := "-"
			if bu.Distance >= 0 {
				dist = strconv.Itoa(bu.Distance)
			}
			tokens := strconv.FormatInt(bu.Tokens, 10)
			if bu.TokenLimit > 0 {
				tokens += " of " + strconv.Itoa(bu.TokenLimit)
			}
			cost := fmt.Sprintf("$%.2f", bu.CostUSD)
			if bu.CostLimit > 0 {
				cost += fmt.Sprintf(" of $%.2f", bu.CostLimit)
			}
			rows = append(rows, []string{fmt.Sprintf("#%d", bu.Issue), fmt.Sprintf("%d of %d", bu.Attempt, bu.Attempts), dist, tokens, cost})
		}
		out.table("ISSUE\tATTEMPT\tLAST DISTANCE\tTOKENS\tCOST", rows)
	}

	if len(b.Escalated) > 0 {
		out.line("")
		out.line("ESCALATED")
		for _, e := range b.Escalated {
			out.line("#%d %s (%s ago)", e.Issue, e.Title, Ago(b.At, e.Since))
			out.para("   ", e.Reason)
			out.line("   see `agentorg issue show %d` and `agentorg logs --issue %d`", e.Issue, e.Issue)
		}
	}
	if len(b.Failed) > 0 {
		out.line("")
		out.line("FAILED")
		for _, f := range b.Failed {
			out.line("#%d %s (%s, %s ago)", f.Issue, f.Title, f.Label, Ago(b.At, f.Since))
			out.para("   ", f.Reason)
			out.line("   see `agentorg logs --issue %d`", f.Issue)
		}
	}
	return out.err
}

// issueList names issues, "#1 #2 ..." while they fit a line.
func issueList(ns []int64) string {
	var parts []string
	for _, n := range ns {
		parts = append(parts, fmt.Sprintf("#%d", n))
	}
	return strings.Join(parts, " ")
}

func shortRun(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// cutter writes lines cut to Width columns, keeping the first error.
type cutter struct {
	w   io.Writer
	err error
}

func (c *cutter) line(format string, args ...any) {
	if c.err == nil {
		_, c.err = fmt.Fprintln(c.w, eventfmt.Cut(eventfmt.OneLine(fmt.Sprintf(format, args...)), Width))
	}
}

// para writes text wrapped at word boundaries to Width columns, each line
// after indent: a reason is what a person came to read, so it is not cut.
func (c *cutter) para(indent, text string) {
	line := indent
	for _, word := range strings.Fields(eventfmt.OneLine(text)) {
		if line != indent && eventfmt.Width(line)+1+eventfmt.Width(word) > Width {
			c.line("%s", line)
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += word
	}
	if line != indent {
		c.line("%s", line)
	}
}

// table aligns rows (tab-separated cells) under header ("" for none).
func (c *cutter) table(header string, rows [][]string) {
	var sb strings.Builder
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
	if header != "" {
		fmt.Fprintln(tw, header)
	}
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
	for _, l := range strings.Split(strings.TrimRight(sb.String(), "\n"), "\n") {
		c.line("%s", strings.TrimRight(l, " "))
	}
}

// workerRuns says what a worker runs: "#3 develop for 4m12s, ...".
func workerRuns(b *Board, runs []Run) string {
	if len(runs) == 0 {
		return "nothing"
	}
	var parts []string
	for _, r := range runs {
		s := fmt.Sprintf("#%d %s for %s", r.Issue, r.Stage, Ago(b.At, r.Since))
		if r.Stale {
			s += " (stale)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}
