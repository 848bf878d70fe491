package codex

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/cli"
	"github.com/agentorg/agentorg/agent/cli/fakecli"
	"github.com/agentorg/agentorg/agent/clitest"
	"github.com/agentorg/agentorg/modelserver"
)

// These tests run the real Codex CLI against the scripted model server
// (realCLI), for what is Codex's own; the contract suite does the rest.

// lastBody is the newest request the server received, as text.
func lastBody(t *testing.T, srv *modelserver.Server) string {
	t.Helper()
	reqs := srv.Requests()
	if len(reqs) == 0 {
		t.Fatal("the model server saw no request")
	}
	return string(reqs[len(reqs)-1].Body)
}

func TestRealSandboxPerAccess(t *testing.T) {
	// A path outside the project and outside /tmp (which workspace-write
	// lets Codex write): Codex refuses the patch before touching it.
	outside := fmt.Sprintf("/var/agentorg-codex-test-%d/outside.txt", os.Getpid())
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(outside)) })
	b := realCLI.Bench(t,
		modelserver.Step{Match: "READ-ONLY", Actions: []modelserver.Action{
			{Write: &modelserver.Write{Path: "ro.txt", Content: "must not exist\n"}},
			{Text: "Reviewed."}}},
		modelserver.Step{Match: "OUTSIDE", Actions: []modelserver.Action{
			{Write: &modelserver.Write{Path: outside, Content: "must not exist\n"}},
			{Text: "Wrote outside."}}},
	)
	a := b.Agent(cli.Config{})

	// Read-only: the write is refused, and that is not a failure.
	task, tr := b.Task("Review the change (READ-ONLY)", agentorg.ReadOnly)
	res, err := a.Start(context.Background(), task)
	if err != nil || res.Summary != "Reviewed." {
		t.Fatalf("read-only start: %+v, %v\n%s", res, err, tr)
	}
	if _, err := os.Stat(filepath.Join(b.Dir, "ro.txt")); err == nil {
		t.Fatal("a read-only run wrote a file")
	}
	if !strings.Contains(lastBody(t, b.Server), "writing is blocked by read-only sandbox") {
		t.Errorf("the model was not told the write was blocked:\n%s", tr)
	}

	// The sandbox given before `resume` applies to the resumed run too.
	task, tr = b.Task("Review again (READ-ONLY)", agentorg.ReadOnly)
	if _, err := a.Resume(context.Background(), res.SessionID, task); err != nil {
		t.Fatalf("read-only resume: %v\n%s", err, tr)
	}
	if _, err := os.Stat(filepath.Join(b.Dir, "ro.txt")); err == nil {
		t.Fatal("a read-only resumed run wrote a file")
	}
	if !strings.Contains(lastBody(t, b.Server), "Review again") || strings.Count(lastBody(t, b.Server), "writing is blocked by read-only sandbox") != 2 {
		t.Errorf("the resumed write was not blocked by the read-only sandbox:\n%s", tr)
	}

	// Read-write: a refused write fails the run even though Codex exits 0.
	task, tr = b.Task("Write outside the project (OUTSIDE)", agentorg.ReadWrite)
	res, err = a.Start(context.Background(), task)
	fakecli.WantAgentErr(t, err, "the sandbox refused: patch rejected: writing outside of the project")
	if res.SessionID == "" || res.Summary != "Wrote outside." {
		t.Errorf("result on refusal %+v\n%s", res, tr)
	}
	if _, err := os.Stat(outside); err == nil {
		t.Fatal("Codex wrote outside the project")
	}
}

func TestRealProbe(t *testing.T) {
	bin := clitest.Find(t, "codex")
	pr := New(Config{}).Probe(context.Background(), clitest.NewHome(t).Env(bin))
	if pr.Problem != "" || pr.Path != bin || !strings.HasPrefix(pr.Version, "codex-cli ") {
		b, _ := json.Marshal(pr)
		t.Fatalf("probe of the installed Codex: %s", b)
	}
}
