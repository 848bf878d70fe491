package discord

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/notify"
	"github.com/agentorg/agentorg/workflow"
)

// Config is what the bot works with.
type Config struct {
	Workflow *workflow.Workflow
	Tracker  agentorg.Tracker
	Log      *eventlog.Log
	DB       *sql.DB // the engine's database: the status digest reads what runs
	// DashboardURL is where the dashboard is served, for links ("" takes
	// the workflow's discord.dashboard_url).
	DashboardURL string
	// Getenv reads the token (or the webhook URL) from the engine's
	// environment; nil: os.Getenv is not assumed, the caller passes it.
	Getenv func(string) string
	// Warn reports what went wrong and is tried again (nil: dropped).
	Warn func(string)
	// Every is how often the event log is read (default 500ms).
	Every time.Duration
}

// Bot is the organization's Discord presence while serve runs.
type Bot struct {
	cfg      Config
	session  *discordgo.Session // nil in webhook mode
	notifier *Notifier
	appID    string
	mu       sync.Mutex
	stop     context.CancelFunc
	done     chan struct{}
}

// ErrNoSecret says the variable that should hold the token or the webhook
// URL is not set.
var ErrNoSecret = errors.New("not set")

// secret reads the bot's token or webhook URL from the variable the
// workflow names.
func secret(cfg Config) (string, error) {
	d := cfg.Workflow.Discord
	name, what := d.TokenEnv, "the bot's token"
	if !d.BotMode() {
		name, what = d.WebhookEnv, "the incoming webhook's URL"
	}
	v := cfg.Getenv(name)
	if v == "" {
		return "", fmt.Errorf("discord: $%s is %w: it holds %s (see docs/discord.md); the workflow names the variable, never the secret", name, ErrNoSecret, what)
	}
	secrets.Add(v)
	if !d.BotMode() {
		if u, err := url.Parse(v); err == nil {
			secrets.Add(path.Base(u.Path)) // the webhook's token
		}
	}
	return v, nil
}

// Start connects the bot (bot mode: the gateway, and the slash commands
// registered in the guild) and starts notifying. It fails when the secret
// is missing or Discord refuses the connection: a workflow that asks for
// Discord does not run silently without it.
func Start(ctx context.Context, cfg Config) (*Bot, error) {
	d := cfg.Workflow.Discord
	if !d.Enabled() {
		return nil, errors.New("discord: the workflow has no discord section")
	}
	if cfg.Warn == nil {
		cfg.Warn = func(string) {}
	}
	if cfg.Every <= 0 {
		cfg.Every = 500 * time.Millisecond
	}
	if cfg.DashboardURL == "" {
		cfg.DashboardURL = d.DashboardURL
	}
	sec, err := secret(cfg)
	if err != nil {
		return nil, err
	}
	b := &Bot{cfg: cfg}
	var out poster
	if d.BotMode() {
		s, err := newSession(sec, d.APIURL)
		if err != nil {
			return nil, err
		}
		ready := make(chan string, 1)
		s.AddHandler(func(_ *discordgo.Session, r *discordgo.Ready) {
			if r.Application != nil {
				select {
				case ready <- r.Application.ID:
				default:
				}
			}
		})
		s.AddHandler(func(s *discordgo.Session, i *discordgo.InteractionCreate) { b.interact(s, i) })
		if err := s.Open(); err != nil {
			return nil, fmt.Errorf("discord: connecting the bot: %s", secrets.Redact(err.Error()))
		}
		select {
		case b.appID = <-ready:
		case <-time.After(15 * time.Second):
			s.Close()
			return nil, errors.New("discord: the gateway sent no READY within 15s")
		}
		if _, err := s.ApplicationCommandBulkOverwrite(b.appID, d.Guild, commands(), discordgo.WithContext(ctx)); err != nil {
			s.Close()
			return nil, fmt.Errorf("discord: registering /agentorg in guild %s: %s", d.Guild, secrets.Redact(err.Error()))
		}
		b.session = s
		out = botPoster{s: s}
	} else {
		out = webhookPoster{url: sec, slack: d.WebhookKind == workflow.WebhookSlack, http: &http.Client{Timeout: 30 * time.Second}}
	}
	b.notifier = &Notifier{
		src:     notify.Sources{Workflow: cfg.Workflow, Tracker: cfg.Tracker, Log: cfg.Log, DB: cfg.DB, DashboardURL: cfg.DashboardURL},
		cfg:     d,
		out:     out,
		actHere: cfg.Workflow.Tracker.Kind != workflow.TrackerGitLab,
		warn:    cfg.Warn,
		failed:  map[string]bool{},
		wake:    make(chan struct{}, 1),
	}
	// The first pass before Start returns: what the engine records from
	// now on is after the notifier's place in the log, never skipped as
	// history.
	if err := b.notifier.Sync(ctx); err != nil {
		if b.session != nil {
			b.session.Close()
		}
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	b.stop, b.done = cancel, make(chan struct{})
	go func() {
		defer close(b.done)
		b.notifier.Run(rctx, cfg.Every)
	}()
	return b, nil
}

// Flush does a last pass, so that what the engine just did is told before
// the process ends (serve --once, the demo).
func (b *Bot) Flush(ctx context.Context) error { return b.notifier.Sync(ctx) }

// Close stops notifying and disconnects.
func (b *Bot) Close() {
	b.stop()
	<-b.done
	if b.session != nil {
		b.session.Close()
	}
}
