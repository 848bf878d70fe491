package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/board"
	"github.com/agentorg/agentorg/discord"
	"github.com/agentorg/agentorg/eventfmt"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/tracker/gitlab"
	"github.com/agentorg/agentorg/workflow"
)

func newServeCmd(g *globals) *cobra.Command {
	var once bool
	var poll time.Duration
	var hookAddr, hookSecretEnv, logFormat string
	var dash dashboardFlags
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the engine: reconcile the tracker and run every stage that is due",
		Long: `Run the engine as a daemon: read the tracker every --poll, enqueue one job per
(issue, stage) that the labels call for, and work them. With --once, drive
everything currently actionable, then exit (issues waiting for a human stay
where they are).

serve logs to stderr one line per transition and per failure, with the time,
the issue, the states it moved between and why:

  23:46:24 #1 dev:ready → dev:running  develop claimed the issue (job 11, try 1)

The log follows the event log, so what humans do meanwhile from other shells
(agentorg approve, reject, label) shows too. --log-format json prints each
event as one JSON object per line instead, for machines.

With --once, serve ends with a summary on stdout: which issues it moved are
done, which wait at a gate and for whom, which were escalated or failed and
why, and what to run next. It exits 1 when an issue was escalated or a stage
failed for good during the run (a failed try that a retry made good does not
count), and 0 otherwise.

With --http ADDR, serve also serves the dashboard there (see agentorg ui): the
board, each issue's story, transcripts, the merge train, usage, and /metrics,
/healthz and /readyz for operators; a person signed in may approve and reject
at a gate from an issue's page, under the same rules as agentorg approve. Off
loopback it needs --auth. --as NAME prints a one-time sign-in link for NAME.

With a discord section in the workflow, serve also speaks in Discord: a
message when a plan or a merge request waits for approval, an issue
escalated or E2E failed on the target, edited as the issue moves on; in bot
mode people approve and reject from its buttons and /agentorg commands
under the gates' rules (see docs/discord.md). The bot's token is read from
the variable the workflow names (default DISCORD_BOT_TOKEN).

With --webhook-addr, serve also accepts GitLab webhooks (issue, note, merge
request, pipeline events) at /webhooks/gitlab on that address. Each delivery
with the right X-Gitlab-Token (the secret is read from the variable named by
--webhook-secret-env) triggers an early read of the tracker; polling stays the
source of truth, so a lost webhook only delays work.

One engine runs per home. After a crash (even kill -9) a restart releases the
dead claims and finishes every issue exactly once.`,
		Example: `  agentorg serve
  agentorg serve --once || agentorg status
  agentorg serve --log-format json 2>>agentorg.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if poll < 100*time.Millisecond || poll > 24*time.Hour {
				return fmt.Errorf("--poll %s is out of bounds: between 100ms and 24h (the engine reads the tracker every poll; webhooks make it look sooner)", poll)
			}
			logLine, err := eventLogger(cmd.ErrOrStderr(), logFormat)
			if err != nil {
				return err
			}
			org, err := g.open(ctx)
			if err != nil {
				return err
			}
			defer org.Close()
			// Say at start which agents will refuse to run, not only at
			// their first run.
			printWarnings(cmd.ErrOrStderr(), org.Workflow.Warnings)
			if msg := app.HomeInsideRepository(org.Home, org.Workflow.Path); msg != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "agentorg: warning: %s\n", msg)
			}
			eng, err := org.Engine(ctx, app.EngineOptions{PollInterval: poll, Warn: func(msg string) {
				fmt.Fprintf(cmd.ErrOrStderr(), "agentorg: warning: %s\n", eventfmt.OneLine(msg))
			}})
			if err != nil {
				return err
			}
			if logFormat == "text" { // JSON logs hold events only
				fmt.Fprintln(cmd.ErrOrStderr(), app.ConfinementOf(org.Workflow))
			}
			// Follow the log from here on: what this run and the humans do.
			var seen []eventlog.Event // for --once's summary; a daemon keeps none
			stopFollowing, err := follow(ctx, org.Log, func(e eventlog.Event) {
				if once {
					seen = append(seen, e)
				}
				if eventfmt.Logged(e) {
					logLine(e)
				}
			})
			if err != nil {
				return err
			}
			// Deferred before the engine's stop, so run after it: the log
			// ends with what the engine recorded last.
			defer stopFollowing()
			if err := eng.Start(ctx); err != nil {
				return err
			}
			defer func() {
				stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				eng.Stop(stopCtx)
			}()
			var bot *discord.Bot
			if org.Workflow.Discord.Enabled() {
				bot, err = discord.Start(ctx, discord.Config{Workflow: org.Workflow, Tracker: org.Tracker, Log: org.Log, DB: org.DB, Getenv: os.Getenv,
					Warn: func(msg string) { fmt.Fprintf(cmd.ErrOrStderr(), "agentorg: warning: %s\n", eventfmt.OneLine(msg)) }})
				if err != nil {
					return err
				}
				defer bot.Close()
				if logFormat == "text" {
					fmt.Fprintln(cmd.ErrOrStderr(), "agentorg: Discord: "+discordMode(org.Workflow.Discord))
				}
			}
			if once {
				if err := eng.RunUntilIdle(ctx); err != nil {
					return err
				}
				if bot != nil { // tell what this run did before it ends
					if err := bot.Flush(ctx); err != nil {
						return err
					}
				}
				if err := stopFollowing(); err != nil {
					return err
				}
				sum, err := board.Summarize(ctx, board.Sources{Workflow: org.Workflow, Tracker: org.Tracker, Log: org.Log, DB: org.DB}, seen)
				if err != nil {
					return err
				}
				if err := sum.WriteText(cmd.OutOrStdout()); err != nil {
					return err
				}
				if len(sum.Broke) > 0 {
					return exitError{1}
				}
				return nil
			}
			if dash.addr != "" {
				stop, err := startDashboard(ctx, cmd, org, dash, false, eng.Ready)
				if err != nil {
					return err
				}
				defer stop()
			}
			var wake <-chan struct{}
			if hookAddr != "" {
				secret := os.Getenv(hookSecretEnv)
				if secret == "" {
					return fmt.Errorf("--webhook-addr needs the webhook's secret token in $%s", hookSecretEnv)
				}
				ch, wakeUp := gitlab.WakeChannel()
				wake = ch
				stop, addr, err := serveWebhooks(hookAddr, &gitlab.Webhook{Secret: secret, Wake: wakeUp})
				if err != nil {
					return err
				}
				defer stop()
				fmt.Fprintf(cmd.ErrOrStderr(), "agentorg: GitLab webhooks on http://%s/webhooks/gitlab\n", addr)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "agentorg: serving %s (home %s), polling every %s\n", org.Workflow.Path, org.Home, poll)
			return eng.Serve(ctx, wake)
		},
	}
	c.Flags().BoolVar(&once, "once", false, "drive everything currently actionable, print a summary, then exit (1 if an issue was escalated or failed)")
	c.Flags().DurationVar(&poll, "poll", 10*time.Second, "how often to read the tracker")
	c.Flags().StringVar(&logFormat, "log-format", "text", "how to log transitions and failures to stderr: text or json (one object per line)")
	c.Flags().StringVar(&hookAddr, "webhook-addr", "", "accept GitLab webhooks on this address (host:port)")
	c.Flags().StringVar(&hookSecretEnv, "webhook-secret-env", "AGENTORG_WEBHOOK_SECRET", "the environment variable holding the webhook's secret token")
	dash.add(c, "")
	return c
}

// discordMode says in words how the organization speaks in Discord.
func discordMode(d workflow.Discord) string {
	if d.BotMode() {
		return fmt.Sprintf("the bot posts to guild %s and takes approvals from its buttons and /agentorg", d.Guild)
	}
	return fmt.Sprintf("notifications through a %s webhook (no approvals from Discord)", d.WebhookKind)
}

// follow calls fn with every event recorded from now on, in a goroutine of
// its own, until stop; stop waits for the last read (so fn has seen all that
// was recorded before it) and returns the follower's error. Calling stop
// again returns the same.
func follow(ctx context.Context, log *eventlog.Log, fn func(eventlog.Event)) (stop func() error, err error) {
	start, err := log.LastID(ctx)
	if err != nil {
		return nil, err
	}
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- log.Follow(fctx, start, eventlog.Filter{}, followEvery, func(e eventlog.Event) error { fn(e); return nil })
	}()
	return sync.OnceValue(func() error {
		cancel()
		return <-done
	}), nil
}

// eventLogger returns what prints one event of serve's log to w.
func eventLogger(w io.Writer, format string) (func(eventlog.Event), error) {
	switch format {
	case "text":
		return func(e eventlog.Event) { fmt.Fprintln(w, eventfmt.Line(e)) }, nil
	case "json":
		enc := json.NewEncoder(w)
		return func(e eventlog.Event) { enc.Encode(e) }, nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
}

// serveWebhooks listens on addr and serves the webhook handler until stop.
func serveWebhooks(addr string, h http.Handler) (stop func(), bound string, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("webhooks: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/webhooks/gitlab", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, MaxHeaderBytes: 64 << 10}
	go srv.Serve(ln)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, ln.Addr().String(), nil
}
