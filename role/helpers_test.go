package role_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/scripted"
	"github.com/agentorg/agentorg/app"
	"github.com/agentorg/agentorg/engine"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/orgtest"
	"github.com/agentorg/agentorg/sample"
)

func TestMain(m *testing.M) { orgtest.Main(m) }

// fence opens and closes a Markdown code block in scripts.
const fence = "```"

// answer is a validator agent's summary judging criteria: id -> verdict.
func answer(verdicts map[int]string) string {
	var parts []string
	for id := 1; id <= 10; id++ {
		if v, ok := verdicts[id]; ok {
			parts = append(parts, fmt.Sprintf(`{"id": %d, "verdict": "%s", "evidence": "judged %s by the script"}`, id, v, v))
		}
	}
	return "I read the change.\n\n" + fence + "json\n{\"criteria\": [" + strings.Join(parts, ", ") + "]}\n" + fence + "\n"
}

// yamlText quotes s as a YAML double-quoted string.
func yamlText(s string) string { return fmt.Sprintf("%q", s) }

// setBudget replaces the default budget section's values.
func setBudget(attempts int, extra string) func(string) string {
	return func(s string) string {
		s = strings.Replace(s, "  attempts: 3\n", fmt.Sprintf("  attempts: %d\n", attempts), 1)
		return strings.Replace(s, "  stall_attempts: 2\n", "  stall_attempts: 2\n"+extra, 1)
	}
}

// setHygiene replaces the default workflow's hygiene settings with body
// (indented lines).
func setHygiene(body string) func(string) string {
	return func(s string) string {
		i := strings.Index(s, "\nhygiene:\n") + len("\nhygiene:\n")
		j := strings.Index(s, "\n\n# Every label")
		return s[:i] + body + s[j+1:]
	}
}

// start opens an issue with body as alice, runs the plan and approves it,
// and runs the engine until the issue rests.
func start(t *testing.T, org *orgtest.Org, body string) (int64, *engine.Engine) {
	t.Helper()
	ctx := context.Background()
	eng := org.Engine(t, app.EngineOptions{})
	is, err := org.People.CreateIssue(ctx, agentorg.NewIssue{Title: "Feature", Body: body, Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if err := org.Humans.OptIn(ctx, is.Number, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	if _, err := org.Humans.Approve(ctx, is.Number, "alice"); err != nil {
		t.Fatal(err)
	}
	orgtest.RunUntilIdle(t, eng)
	return is.Number, eng
}

// optIn opens an issue as alice and opts it in; it returns its number.
func optIn(t *testing.T, org *orgtest.Org, title, body string) int64 {
	t.Helper()
	ctx := context.Background()
	is, err := org.People.CreateIssue(ctx, agentorg.NewIssue{Title: title, Body: body, Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if err := org.Humans.OptIn(ctx, is.Number, "alice"); err != nil {
		t.Fatal(err)
	}
	return is.Number
}

func attempts(t *testing.T, org *orgtest.Org, n int64) []eventlog.Attempt {
	t.Helper()
	as, err := org.Log.Attempts(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

func distances(as []eventlog.Attempt) string {
	var ds []string
	for _, a := range as {
		ds = append(ds, fmt.Sprintf("%s:%d", a.Verdict, a.Distance))
	}
	return strings.Join(ds, " ")
}

func labels(t *testing.T, org *orgtest.Org, n int64) string {
	t.Helper()
	is, err := org.Tracker.Issue(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(is.Labels, ",")
}

func comment(t *testing.T, org *orgtest.Org, n int64, text string) string {
	t.Helper()
	cs, err := org.Tracker.Comments(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if strings.Contains(c.Body, text) {
			return c.Body
		}
	}
	t.Fatalf("no comment on #%d contains %q", n, text)
	return ""
}

// prompts returns the prompts of a session's runs, oldest first.
func prompts(t *testing.T, org *orgtest.Org, session string) []scripted.Run {
	t.Helper()
	runs, err := scripted.ReadState(org.Sessions, session)
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// originBranch returns the origin's SHA of a branch, or "" when it is absent.
func originBranch(t *testing.T, org *orgtest.Org, branch string) string {
	t.Helper()
	out, err := sample.Git(context.Background(), org.Origin, "rev-parse", "--verify", "--quiet", "refs/heads/"+branch)
	if err != nil {
		return ""
	}
	return out
}

// pushToMain commits files onto origin's main from a clone of its own, as a
// teammate would, and returns the new head.
func pushToMain(t *testing.T, org *orgtest.Org, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "teammate")
	orgtest.Git(t, filepath.Dir(dir), "clone", "--quiet", org.Origin, dir)
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	orgtest.Git(t, dir, "add", "-A")
	orgtest.Git(t, dir, "-c", "user.name=Teammate", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "teammate's change")
	orgtest.Git(t, dir, "push", "--quiet", "origin", "HEAD:main")
	return orgtest.Git(t, dir, "rev-parse", "HEAD")
}

// pushToBranch commits one file onto origin's branch from a clone of its
// own, as a teammate would, and returns the new head.
func pushToBranch(t *testing.T, org *orgtest.Org, branch, name, content, message string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "teammate")
	orgtest.Git(t, filepath.Dir(dir), "clone", "--quiet", "--branch", branch, org.Origin, dir)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	orgtest.Git(t, dir, "add", "-A")
	orgtest.Git(t, dir, "commit", "--quiet", "--author=Teammate <t@example.com>", "-m", message)
	orgtest.Git(t, dir, "push", "--quiet", "origin", "HEAD:"+branch)
	return orgtest.Git(t, dir, "rev-parse", "HEAD")
}

// findingPaths is an attempt's finding keys, the target's head taken off
// conflict keys (conflict:README.md@1a2b3c4d5e reads conflict:README.md).
func findingPaths(a eventlog.Attempt) string {
	var keys []string
	for _, k := range a.FindingKeys() {
		if strings.HasPrefix(k, "conflict:") {
			if i := strings.LastIndexByte(k, '@'); i >= 0 {
				k = k[:i]
			}
		}
		keys = append(keys, k)
	}
	return strings.Join(keys, " ")
}
