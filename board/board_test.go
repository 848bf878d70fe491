package board

import (
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/engine"
	"github.com/agentorg/agentorg/eventfmt"
	"github.com/agentorg/agentorg/workflow"
)

func TestWhereAnIssueRests(t *testing.T) {
	wf, err := workflow.Parse("workflow.yaml", workflow.Default(workflow.DefaultOptions{
		Approvers: []string{"alice"}, AgentCommand: []string{"agent"}, Check: "true", E2E: "true",
	}), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		labels []string
		state  agentorg.IssueState
		kind   string
		label  string
	}{
		{[]string{"plan:review"}, agentorg.IssueOpen, Waiting, "plan:review"},
		{[]string{"mr:ready-for-review"}, agentorg.IssueOpen, Waiting, "mr:ready-for-review"},
		{[]string{"needs:human", "dev:ready"}, agentorg.IssueOpen, Escalated, "needs:human"},
		{[]string{"dev:ready"}, agentorg.IssueOpen, Working, "dev:ready"}, // validate's failure, and develop runs on it
		{[]string{"validate:running"}, agentorg.IssueOpen, Working, "validate:running"},
		{[]string{"e2e:failed"}, agentorg.IssueClosed, Failed, "e2e:failed"},
		{[]string{"e2e:done"}, agentorg.IssueClosed, Done, "e2e:done"},
		{nil, agentorg.IssueClosed, Done, ""},
		{[]string{"bug"}, agentorg.IssueOpen, Outside, ""},
	} {
		p := Where(wf, agentorg.Issue{Labels: c.labels, State: c.state})
		if p.Kind != c.kind || p.Label != c.label {
			t.Errorf("%v (%s): %s at %q, want %s at %q", c.labels, c.state, p.Kind, p.Label, c.kind, c.label)
		}
	}
}

// TestTextNamesTheWorkersOfASharedDatabase: on a shared database the first
// line says which workers are alive, not the local engine's pid.
func TestTextNamesTheWorkersOfASharedDatabase(t *testing.T) {
	b := &Board{EnginePID: 42, Workers: []Worker{
		{WorkerState: engine.WorkerState{ID: "w1", Host: "a", Alive: true}},
		{WorkerState: engine.WorkerState{ID: "w2", Host: "b", Alive: true}},
		{WorkerState: engine.WorkerState{ID: "w3", Host: "c"}},
	}}
	var out strings.Builder
	if err := b.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(out.String(), "\n")
	if want := "workers  2 alive of 3 on the shared database: w1@a, w2@b"; first != want {
		t.Fatalf("first line %q, want %q", first, want)
	}
	b.Workers = nil
	out.Reset()
	b.WriteText(&out)
	if first, _, _ := strings.Cut(out.String(), "\n"); first != "engine   running (pid 42)" {
		t.Fatalf("without workers: %q", first)
	}
}

// A title and a reason in Japanese fit the board's width as a terminal
// shows them (two columns a character), cut or wrapped, not by runes.
func TestTextOfWideCharactersFitsTheWidth(t *testing.T) {
	b := &Board{At: time.Now(), Escalated: []Escalation{{
		Issue: 7, Since: time.Now(),
		Title:  "平方根を計算する関数を追加する、とても長いタイトルのテストです。平方根を計算する関数を追加する、とても長いタイトル",
		Reason: strings.Repeat("検証が収束しませんでした：同じ所見が戻ってきました ", 6),
	}}}
	var out strings.Builder
	if err := b.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	wrapped := 0
	for _, l := range strings.Split(out.String(), "\n") {
		if n := eventfmt.Width(l); n > Width {
			t.Errorf("a line of %d columns: %q", n, l)
		}
		if strings.HasPrefix(l, "   検証が") {
			wrapped++
		}
	}
	if wrapped < 3 {
		t.Errorf("the reason should wrap over several lines:\n%s", out.String())
	}
}
