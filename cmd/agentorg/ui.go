package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/web"
)

// dashboardFlags are the flags serve and ui share.
type dashboardFlags struct {
	addr, as, metricsTokenEnv string
	auth                      bool
}

func (f *dashboardFlags) add(c *cobra.Command, defaultAddr string) {
	c.Flags().StringVar(&f.addr, "http", defaultAddr, "serve the dashboard on `ADDR` (host:port); any address but loopback needs --auth")
	c.Flags().BoolVar(&f.auth, "auth", false, "every page needs a signed-in person (required off loopback)")
	c.Flags().StringVar(&f.metricsTokenEnv, "metrics-token-env", "AGENTORG_METRICS_TOKEN", "with --auth, the environment variable (`NAME`) holding the bearer token a scraper presents at /metrics")
	c.Flags().StringVar(&f.as, "as", "", "print a one-time sign-in link for `NAME`, whose credential is checked here as for agentorg approve")
}

// startDashboard serves the dashboard for org on f.addr until stop; it
// refuses an address off loopback without --auth.
func startDashboard(ctx context.Context, cmd *cobra.Command, org *app.Org, f dashboardFlags, readOnly bool, ready func(context.Context) error) (stop func(), err error) {
	if !web.Loopback(f.addr) && !f.auth {
		return nil, fmt.Errorf("--http %s is not a loopback address: anyone who reaches it would see the organization; add --auth (every page then needs a signed-in person), or bind 127.0.0.1", f.addr)
	}
	cfg := web.Config{Workflow: org.Workflow, Tracker: org.Tracker, Log: org.Log, DB: org.DB, Home: org.Home,
		ReadOnly: readOnly, Auth: f.auth, Ready: ready, Metrics: org.MetricsHandler(), MetricsToken: os.Getenv(f.metricsTokenEnv)}
	if org.Workflow.Tracker.Kind == "embedded" {
		cfg.Users = org.Users
	}
	srv, err := web.New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10}
	go hs.Serve(ln)
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(cmd.ErrOrStderr(), "agentorg: dashboard on %s/%s\n", url, map[bool]string{true: " (read-only)", false: ""}[readOnly])
	if f.as != "" {
		if err := authenticate(ctx, cmd, org, f.as); err != nil {
			hs.Close()
			return nil, err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "agentorg: sign in as %s (once, within 10 minutes): %s%s\n", f.as, url, srv.LoginLink(f.as))
	}
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			hs.Close()
		}
	}, nil
}

func newUICmd(g *globals) *cobra.Command {
	var f dashboardFlags
	c := &cobra.Command{
		Use:   "ui",
		Short: "Serve the dashboard on a home, without running the engine (read-only)",
		Long: `Serve the dashboard (board, issues, transcripts, merge train, usage, /metrics)
on a home without running the engine: what ` + "`agentorg serve --http`" + ` shows, with
no forms that act. It follows the event log, so an engine running elsewhere on
the same home shows live.

The default address is loopback. Any other needs --auth: every page then needs
a person enrolled in the home (` + "`agentorg user add`" + `) to sign in.`,
		Example: `  agentorg ui
  agentorg ui --http 127.0.0.1:9090
  agentorg ui --http 0.0.0.0:8080 --auth --as alice`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			org, err := g.open(ctx)
			if err != nil {
				return err
			}
			defer org.Close()
			stop, err := startDashboard(ctx, cmd, org, f, true, nil)
			if err != nil {
				return err
			}
			defer stop()
			<-ctx.Done()
			return nil
		},
	}
	f.add(c, "127.0.0.1:8080")
	return c
}
