package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/eventfmt"
	"github.com/agentorg/agentorg/eventlog"
)

// followEvery is how often a follower reads what is new: often enough to
// feel live, one indexed read of the new rows each time.
const followEvery = 500 * time.Millisecond

// viewWidth is what the default views fit in.
const viewWidth = 100

func newEventsCmd(g *globals) *cobra.Command {
	var issue int64
	var wide, follow bool
	c := &cobra.Command{
		Use:   "events",
		Short: "Show the event log: every transition with its actor, reason and run",
		Long: `Show the event log: every transition, claim, agent run, verdict, refusal and
escalation, with its actor and reason, oldest first.

The default view fits 100 columns: the time, issue, kind, actor, the states
moved between, and the reason cut with … to fit. --wide prints full rows with
the date, the whole reason and the run id (for 'agentorg logs RUN'). --json
prints the events as a JSON array.

--follow keeps printing events as they are recorded, by the engine or by a
human's command in another shell, until interrupted (Ctrl-C exits 0); with
--json it prints one JSON object per line.`,
		Example: `  agentorg events
  agentorg events --issue 3 --wide
  agentorg events --follow
  agentorg events --follow --issue 3 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if issue < 0 {
				return fmt.Errorf("--issue %d is not an issue number: numbers start at 1", issue)
			}
			return g.read(cmd, func(ctx context.Context, org *app.Org) error {
				f := eventlog.Filter{Issue: issue}
				evs, err := org.Log.Events(ctx, f)
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				if !follow {
					switch {
					case g.json:
						if evs == nil {
							evs = []eventlog.Event{}
						}
						return printJSON(w, evs)
					case wide:
						writeWide(w, evs, true)
					default:
						t := eventfmt.NewTable(viewWidth, evs, time.Now())
						fmt.Fprintln(w, t.Header())
						for _, e := range evs {
							fmt.Fprintln(w, t.Row(e))
						}
					}
					return nil
				}
				var write func(eventlog.Event) error
				switch {
				case g.json:
					enc := json.NewEncoder(w)
					write = func(e eventlog.Event) error { return enc.Encode(e) }
				case wide:
					// Rows come one by one: aligned with nothing, so no header.
					write = func(e eventlog.Event) error { writeWide(w, []eventlog.Event{e}, false); return nil }
				default:
					t := eventfmt.NewTable(viewWidth, evs, time.Now())
					fmt.Fprintln(w, t.Header())
					write = func(e eventlog.Event) error { _, err := fmt.Fprintln(w, t.Row(e)); return err }
				}
				var after int64
				for _, e := range evs {
					if err := write(e); err != nil {
						return err
					}
					after = e.ID
				}
				// Interrupted (Ctrl-C) is how a follower ends: not an error.
				return org.Log.Follow(ctx, after, f, followEvery, write)
			})
		},
	}
	c.Flags().Int64Var(&issue, "issue", 0, "only this issue")
	c.Flags().BoolVar(&wide, "wide", false, "full rows: the date, the whole reason and the run id")
	c.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new events until interrupted")
	g.addJSON(c)
	return c
}

// writeWide prints events as full rows, aligned among themselves.
func writeWide(w io.Writer, evs []eventlog.Event, header bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if header {
		fmt.Fprintln(tw, "TIME\tISSUE\tKIND\tACTOR\tSTATE\tREASON\tRUN")
	}
	for _, e := range evs {
		move := ""
		if e.From != "" || e.To != "" {
			move = orDash(e.From) + " -> " + orDash(e.To)
		}
		fmt.Fprintf(tw, "%s\t#%d\t%s\t%s\t%s\t%s\t%s\n", ago(e.At), e.Issue, e.Kind, e.Actor, move, eventfmt.OneLine(e.Reason), e.RunID)
	}
	tw.Flush()
}
