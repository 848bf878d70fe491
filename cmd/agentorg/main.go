// Command agentorg runs an AI engineering organization over a git
// repository. This package only parses flags and wires the pieces together;
// see the packages it imports for what each piece does.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/agentorg/agentorg/agent/scripted"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/human"
	"github.com/agentorg/agentorg/sandbox"
	"github.com/agentorg/agentorg/termsafe"
	"github.com/agentorg/agentorg/workflow"
)

// exitError carries an exit status without printing anything more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	// `agentorg confine ...` is the helper every confined agent and check
	// starts through (package sandbox); it must run before anything else.
	sandbox.Main()
	// The scripted agent is this same binary, so that the demo needs nothing
	// but agentorg itself.
	if len(os.Args) > 1 && os.Args[1] == "scripted-agent" {
		os.Exit(scripted.Main(os.Args[2:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newRoot().ExecuteContext(ctx)
	if err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		var ps workflow.Problems
		if errors.As(err, &ps) {
			fmt.Fprintln(os.Stderr, termsafe.String(ps.Error()))
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "agentorg:", termsafe.String(err.Error()))
		os.Exit(1)
	}
}

// globals are the flags every command shares.
type globals struct {
	home     string
	workflow string
	database string
	as       string
	json     bool
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "agentorg",
		Short: "Run an AI engineering organization over a git repository",
		Long: `agentorg runs an AI engineering organization over a git repository.

The issue tracker is the coordination layer: issues are work queues, labels are
the state of each piece of work, merge requests are review checkpoints. Roles
(PM, developer, validator, merge, E2E) never talk to each other; each reads the
tracker, does its job and moves the label on. Humans set goals and approve.

Start with 'agentorg demo' to watch four issues go through the lifecycle, or
'agentorg init' in your repository to write a workflow.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// Titles, reasons and transcripts are written by agents: controls are
	// shown, never obeyed by the terminal (JSON escapes its own).
	out, errOut := termsafe.NewWriter(os.Stdout), termsafe.NewWriter(os.Stderr)
	out.Raw = func() bool { return g.json }
	root.SetOut(out)
	root.SetErr(errOut)
	pf := root.PersistentFlags()
	pf.StringVar(&g.home, "home", "", "state directory (env AGENTORG_HOME; default: the one <repo>/.agentorg/state links to, made outside the repository)")
	pf.StringVar(&g.workflow, "workflow", "", "workflow file (env AGENTORG_WORKFLOW; default .agentorg/workflow.yaml found upwards)")
	pf.StringVar(&g.database, "database", "", "PostgreSQL database that many workers share: postgres://user@host/db (env AGENTORG_DATABASE;\ndefault the home's own SQLite file; the password from PGPASSWORD or ~/.pgpass)")
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(
		newInitCmd(g), newCheckCmd(g),
		newIssueCmd(g), newLabelCmd(g), newApproveCmd(g), newRejectCmd(g), newMRCmd(g),
		newEventsCmd(g), newServeCmd(g), newAgentsCmd(g), newUsageCmd(g), newDemoCmd(g), newBenchCmd(g),
		newLabelsCmd(g), newDoctorCmd(g), newUserCmd(g), newFsckCmd(g), newGCCmd(g), newStatusCmd(g), newLogsCmd(g), newUICmd(g),
		newReleaseCmd(g), newDeployCmd(g),
	)
	strictGroups(root)
	return root
}

func (g *globals) open(ctx context.Context) (*app.Org, error) {
	return app.Open(ctx, app.Options{Home: g.home, Workflow: g.workflow, Database: g.database, Notify: notice})
}

// notice tells the person at the terminal what agentorg repaired on its
// own (a moved home), once.
func notice(s string) { fmt.Fprintln(os.Stderr, "agentorg:", s) }

// read opens the home for a command that only looks, runs f, and closes it.
func (g *globals) read(cmd *cobra.Command, f func(ctx context.Context, org *app.Org) error) error {
	org, err := g.open(cmd.Context())
	if err != nil {
		return err
	}
	defer org.Close()
	return f(cmd.Context(), org)
}

// act runs a human's command on the issue named by arg: it parses the
// number, works out who is acting (--as), and opens the home.
func (g *globals) act(cmd *cobra.Command, arg string, f func(ctx context.Context, org *app.Org, n int64, user string) error) error {
	return g.actOn(cmd, arg, issueArg, f)
}

// actOn is act for a number parse reads: an issue's, or a merge request's
// (mrArg).
func (g *globals) actOn(cmd *cobra.Command, arg string, parse func(string) (int64, error), f func(ctx context.Context, org *app.Org, n int64, user string) error) error {
	n, err := parse(arg)
	if err != nil {
		return err
	}
	user, err := g.user()
	if err != nil {
		return err
	}
	return g.read(cmd, func(ctx context.Context, org *app.Org) error {
		if err := authenticate(ctx, cmd, org, user); err != nil {
			return err
		}
		return f(ctx, org, n, user)
	})
}

// authenticate checks, on the embedded tracker, that whoever runs the
// command holds user's credential (--as alone is not an identity; see
// human.Users). On GitLab people act in GitLab, as themselves.
func authenticate(ctx context.Context, cmd *cobra.Command, org *app.Org, user string) error {
	if org.Workflow.Tracker.Kind != "embedded" {
		return nil
	}
	creds, err := human.DefaultCredentials(os.Getenv)
	if err != nil {
		return err
	}
	var named []string
	for _, gate := range org.Workflow.Gates {
		named = append(append(named, gate.Approvers...), gate.Reviewers...)
	}
	enrolled, err := org.Users.Authenticate(ctx, creds, user, named)
	if err != nil {
		return err
	}
	if enrolled {
		fmt.Fprintf(cmd.ErrOrStderr(), "agentorg: %s is the first person enrolled in this home; the credential is in %s (keep it private: acting as %s needs it from now on)\n",
			user, creds.Path, user)
	}
	org.Desk.Identity = "credential"
	return nil
}

// addAs adds --as, the user a human command acts as.
func (g *globals) addAs(c *cobra.Command) {
	c.Flags().StringVar(&g.as, "as", "", "act as this user (default: git config user.name, else $USER)")
}

func (g *globals) addJSON(c *cobra.Command) {
	c.Flags().BoolVar(&g.json, "json", false, "print JSON")
}

func (g *globals) user() (string, error) {
	if g.as != "" {
		return g.as, nil
	}
	if out, err := exec.Command("git", "config", "user.name").Output(); err == nil {
		if name := strings.TrimSpace(string(out)); name != "" {
			return name, nil
		}
	}
	if u := os.Getenv("USER"); u != "" {
		return u, nil
	}
	return "", errors.New("no user: pass --as NAME or set git config user.name")
}

// strictGroups makes every command that only groups others (issue, mr,
// label, ...) refuse an unknown subcommand with an error (exit 1), where
// cobra would print the help and exit 0.
func strictGroups(c *cobra.Command) {
	for _, sub := range c.Commands() {
		strictGroups(sub)
	}
	if !c.HasParent() || !c.HasSubCommands() || c.Run != nil || c.RunE != nil {
		return
	}
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		return fmt.Errorf("unknown command %q for %q: see %s --help", args[0], cmd.CommandPath(), cmd.CommandPath())
	}
}

var negativeRE = regexp.MustCompile(`^unknown shorthand flag: '[0-9]' in (-[0-9]+)$`)

// flagError says plainly what a negative number given as an issue or
// merge request number is, instead of cobra's "unknown shorthand flag".
func flagError(c *cobra.Command, err error) error {
	if m := negativeRE.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("%s is not an issue or merge request number: numbers start at 1 (see %s --help)", m[1], c.CommandPath())
	}
	return fmt.Errorf("%w (see %s --help)", err, c.CommandPath())
}
