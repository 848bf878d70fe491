package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/tracker/gitlab"
)

func newServeCmd(g *globals) *cobra.Command {
	var once bool
	var poll time.Duration
	var hookAddr, hookSecretEnv string
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the engine: reconcile the tracker and run every stage that is due",
		Long: `Run the engine as a daemon: read the tracker every --poll, enqueue one job per
(issue, stage) that the labels call for, and work them. With --once, drive
everything currently actionable, then exit (issues waiting for a human stay
where they are).

With --webhook-addr, serve also accepts GitLab webhooks (issue, note, merge
request, pipeline events) at /webhooks/gitlab on that address. Each delivery
with the right X-Gitlab-Token (the secret is read from the variable named by
--webhook-secret-env) triggers an early read of the tracker; polling stays the
source of truth, so a lost webhook only delays work.

One engine runs per home. After a crash (even kill -9) a restart releases the
dead claims and finishes every issue exactly once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			org, err := g.open(ctx)
			if err != nil {
				return err
			}
			defer org.Close()
			// Say at start which agents will refuse to run, not only at
			// their first run.
			printWarnings(cmd.ErrOrStderr(), org.Workflow.Warnings)
			eng, err := org.Engine(ctx, app.EngineOptions{PollInterval: poll})
			if err != nil {
				return err
			}
			if err := eng.Start(ctx); err != nil {
				return err
			}
			defer func() {
				stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				eng.Stop(stopCtx)
			}()
			if once {
				if err := eng.RunUntilIdle(ctx); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), "nothing left to do; see `agentorg issue list` and `agentorg events`")
				return nil
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
	c.Flags().BoolVar(&once, "once", false, "drive everything currently actionable, then exit")
	c.Flags().DurationVar(&poll, "poll", 10*time.Second, "how often to read the tracker")
	c.Flags().StringVar(&hookAddr, "webhook-addr", "", "accept GitLab webhooks on this address (host:port)")
	c.Flags().StringVar(&hookSecretEnv, "webhook-secret-env", "AGENTORG_WEBHOOK_SECRET", "the environment variable holding the webhook's secret token")
	return c
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
