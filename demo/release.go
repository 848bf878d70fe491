package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/sample"
)

// printRelease shows the release the demo made: its tag and notes, and
// what runs in staging.
func printRelease(ctx context.Context, out io.Writer, org *app.Org, issue int64, staging string) error {
	r, ok, err := org.Log.ReleaseOf(ctx, issue)
	if err != nil || !ok {
		return err
	}
	fmt.Fprintf(out, "\nRelease %s: tagged on %.10s (E2E passed there), CHANGELOG.md updated through !%d\n\n", r.Tag, r.Commit, r.MR)
	for _, line := range strings.Split(strings.TrimSpace(r.Notes), "\n") {
		fmt.Fprintf(out, "  %s\n", line)
	}
	deps, err := org.Log.Deployments(ctx, "")
	if err != nil {
		return err
	}
	for _, d := range deps {
		fmt.Fprintf(out, "\nDeployed %s to %s (%s): %s. agentorg deploy status shows what runs where.\n", r.Tag, d.Env, d.AllowedBy, d.State)
	}
	if b, err := os.ReadFile(filepath.Join(staging, "VERSION")); err == nil {
		fmt.Fprintf(out, "  %s holds: %s", filepath.Join(staging, "VERSION"), b)
	}
	return nil
}

// verifyRelease checks that the release carries the merged issues, is
// tagged on a commit of the target, and runs in staging.
func verifyRelease(ctx context.Context, org *app.Org, origin string, issue int64, numbers []int64, staging string) []string {
	var problems []string
	r, ok, err := org.Log.ReleaseOf(ctx, issue)
	if err != nil || !ok || !r.Published || r.Tag != "v0.1.0" {
		return []string{fmt.Sprintf("release #%d: not published as v0.1.0 (%+v, %v)", issue, r, err)}
	}
	want := []int64{numbers[0], numbers[1], numbers[3]}
	if !slices.Equal(r.Issues, want) {
		problems = append(problems, fmt.Sprintf("release v0.1.0 carries %v, want the merged %v", r.Issues, want))
	}
	if tagged, err := sample.Git(ctx, origin, "rev-parse", "v0.1.0^{commit}"); err != nil || strings.TrimSpace(tagged) != r.Commit {
		problems = append(problems, fmt.Sprintf("the tag v0.1.0 is on %q (%v), the release on %s", tagged, err, r.Commit))
	}
	if b, err := os.ReadFile(filepath.Join(staging, "VERSION")); err != nil || !strings.HasPrefix(string(b), "0.1.0 "+r.Commit) {
		problems = append(problems, fmt.Sprintf("staging holds %q (%v), want 0.1.0 at %s", b, err, r.Commit))
	}
	return problems
}
