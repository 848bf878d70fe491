package board

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/board/boardtest"
	"github.com/agentorg/agentorg/engine"
)

// section is the text of the board's section titled title, up to the
// blank line that ends it; "" when the board has none.
func section(text, title string) string {
	_, rest, ok := strings.Cut(text, "\n"+title+"\n")
	if !ok {
		return ""
	}
	body, _, _ := strings.Cut(rest, "\n\n")
	return strings.TrimSuffix(body, "\n")
}

// TestTextSaysWhatEachWorkerRunsAndHolds: on a shared database the
// WORKERS section gives each worker its beat, what it runs (issue, stage,
// for how long) and the open issues it holds; a home's own SQLite, without
// workers, has no such section.
func TestTextSaysWhatEachWorkerRunsAndHolds(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	alive := func(id, host string, beat time.Duration) engine.WorkerState {
		return engine.WorkerState{ID: id, Host: host, Beat: ago(beat), Alive: true}
	}
	var many []int64
	for n := int64(100); n < 130; n++ {
		many = append(many, n)
	}
	for _, c := range []struct {
		name    string
		workers []Worker
		want    string
	}{
		{"no workers", nil, ""},
		{"one runs and holds, one idle, one silent", []Worker{
			{WorkerState: alive("wa", "host-a", 2*time.Second),
				Running: []Run{{Issue: 3, Stage: "develop", Worker: "wa", Since: ago(4*time.Minute + 12*time.Second)}},
				Holds:   []int64{3, 5}},
			{WorkerState: alive("wb", "host-b", time.Second)},
			{WorkerState: engine.WorkerState{ID: "wc", Host: "host-c", Beat: ago(10 * time.Minute)}, Holds: []int64{9}},
		}, `wa@host-a  alive, beat 2s ago
   runs #3 develop for 4m12s
   holds #3 #5
wb@host-b  alive, beat 1s ago
   runs nothing
   holds no open issue
wc@host-c  silent for 10m00s
   runs nothing
   holds #9`},
		{"two runs, one stale", []Worker{
			{WorkerState: alive("wa", "host-a", 20*time.Second), Running: []Run{
				{Issue: 3, Stage: "develop", Since: ago(time.Minute)},
				{Issue: 8, Stage: "validate", Since: ago(30 * time.Second), Stale: true},
			}, Holds: []int64{3}},
		}, `wa@host-a  alive, beat 20s ago
   runs #3 develop for 1m00s, #8 validate for 30s (stale)
   holds #3`},
		{"many held issues wrap within the width", []Worker{{WorkerState: alive("wa", "host-a", 0), Holds: many}},
			`wa@host-a  alive, beat 0s ago
   runs nothing
   holds #100 #101 #102 #103 #104 #105 #106 #107 #108 #109 #110 #111 #112 #113 #114 #115 #116 #117
   #118 #119 #120 #121 #122 #123 #124 #125 #126 #127 #128 #129`},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := &Board{At: now, Workers: c.workers}
			var out strings.Builder
			if err := b.WriteText(&out); err != nil {
				t.Fatal(err)
			}
			if got := section(out.String(), "WORKERS"); got != c.want {
				t.Fatalf("WORKERS section:\n%s\nwant:\n%s\nthe board:\n%s", got, c.want, out.String())
			}
			for _, l := range strings.Split(out.String(), "\n") {
				if len([]rune(l)) > Width {
					t.Errorf("line longer than %d columns: %q", Width, l)
				}
			}
		})
	}
}

// TestJSONGivesEachWorkerItsRunsAndHolds: status --json keeps a worker's
// fields where they were (id, host, beat, alive) and adds what it runs and
// holds.
func TestJSONGivesEachWorkerItsRunsAndHolds(t *testing.T) {
	beat := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	b := &Board{Workers: []Worker{{
		WorkerState: engine.WorkerState{ID: "wa", Host: "host-a", Beat: beat, Alive: true},
		Running:     []Run{{Issue: 3, Stage: "develop", RunID: "run-3", Worker: "wa"}},
		Holds:       []int64{3, 5},
	}}}
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Workers []struct {
			ID      string    `json:"id"`
			Host    string    `json:"host"`
			Beat    time.Time `json:"beat"`
			Alive   bool      `json:"alive"`
			Running []struct {
				Issue  int64  `json:"issue"`
				Stage  string `json:"stage"`
				RunID  string `json:"run_id"`
				Worker string `json:"worker"`
			} `json:"running"`
			Holds []int64 `json:"holds"`
		} `json:"workers"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Workers) != 1 {
		t.Fatalf("workers in %s", data)
	}
	w := got.Workers[0]
	if w.ID != "wa" || w.Host != "host-a" || !w.Beat.Equal(beat) || !w.Alive || !reflect.DeepEqual(w.Holds, []int64{3, 5}) ||
		len(w.Running) != 1 || w.Running[0].Issue != 3 || w.Running[0].Stage != "develop" || w.Running[0].RunID != "run-3" || w.Running[0].Worker != "wa" {
		t.Fatalf("worker in JSON: %s", data)
	}
}

// TestReadFindsWhatWorkersRunAndHold reads the board of a PostgreSQL
// database two workers share: each is listed with the run its claim holds
// and the open issues its rows say it holds; a closed issue's row, a row
// naming no worker and a claim of no worker are nobody's.
func TestReadFindsWhatWorkersRunAndHold(t *testing.T) {
	ctx := context.Background()
	sh := boardtest.New(t)
	for i := range 5 {
		is, err := sh.Tracker.CreateIssue(ctx, agentorg.NewIssue{Title: "issue", Labels: []string{"dev:ready"}, Author: "alice"})
		if err != nil || is.Number != int64(i+1) {
			t.Fatalf("issue %d: %v", is.Number, err)
		}
	}
	if err := sh.Tracker.CloseIssue(ctx, 5, "alice"); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claimed := now.Add(-time.Minute).Truncate(time.Second)
	sh.Worker(t, "wa", "host-a", now)
	sh.Worker(t, "wb", "host-b", now.Add(-time.Minute))
	// wa holds #1 and #3, wb #2 and the closed #5; #4's row names no worker.
	for n, w := range map[int64]string{1: "wa", 2: "wb", 3: "wa", 4: "", 5: "wb"} {
		sh.Hold(t, n, w)
	}
	// wa runs develop on #1, since a minute; wb pm on #2; an older
	// version's claim (no worker) runs on #4.
	sh.Run(t, 11, 1, "develop", "wa", claimed)
	sh.Run(t, 12, 2, "pm", "wb", claimed)
	sh.Run(t, 14, 4, "validate", "", claimed)

	b, err := Read(ctx, Sources{Workflow: sh.Workflow, Tracker: sh.Tracker, Log: sh.Log, DB: sh.DB.SQL})
	if err != nil {
		t.Fatal(err)
	}
	type seen struct {
		id, host string
		alive    bool
		runs     string
		holds    []int64
	}
	var got []seen
	for _, w := range b.Workers {
		var runs []string
		for _, r := range w.Running {
			runs = append(runs, fmt.Sprintf("#%d %s since %s", r.Issue, r.Stage, r.Since.UTC().Format(time.TimeOnly)))
		}
		got = append(got, seen{w.ID, w.Host, w.Alive, strings.Join(runs, ", "), w.Holds})
	}
	since := claimed.UTC().Format(time.TimeOnly)
	want := []seen{
		{"wa", "host-a", true, "#1 develop since " + since, []int64{1, 3}},
		{"wb", "host-b", false, "#2 pm since " + since, []int64{2}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("workers %+v, want %+v", got, want)
	}
	if len(b.Running) != 3 {
		t.Fatalf("running %+v, want all three claims", b.Running)
	}
}

// TestAWaitNamesWhoMayApprove: an issue at a gate says, in words and for
// machines, who may pass it.
func TestAWaitNamesWhoMayApprove(t *testing.T) {
	ctx := context.Background()
	sh := boardtest.New(t)
	if _, err := sh.Tracker.CreateIssue(ctx, agentorg.NewIssue{Title: "plan me", Labels: []string{"plan:review"}, Author: "alice"}); err != nil {
		t.Fatal(err)
	}
	b, err := Read(ctx, Sources{Workflow: sh.Workflow, Tracker: sh.Tracker, Log: sh.Log, DB: sh.DB.SQL})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Waiting) != 1 {
		t.Fatalf("waiting %+v, want the issue at the plan gate", b.Waiting)
	}
	w := b.Waiting[0]
	if w.Gate != "plan" || w.Who != "alice" || !reflect.DeepEqual(w.Approvers, []string{"alice"}) || w.MinAccessLevel != "" {
		t.Fatalf("wait %+v, want the plan gate, alice", w)
	}
	js, err := json.Marshal(w)
	if err != nil || !strings.Contains(string(js), `"approvers":["alice"]`) {
		t.Fatalf("status --json of the wait: %s (%v)", js, err)
	}
}
