package bench

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/agent/scripted"
	"github.com/agentorg/agentorg/orgtest"
)

func TestMain(m *testing.M) { orgtest.Main(m) }

// TestOverlapScriptParses checks the generated script against the
// scripted agent's own parser: every issue has its plan with an Intent
// block, pair members have a conflict step before their edit.
func TestOverlapScriptParses(t *testing.T) {
	layout := overlapLayout(5, 2)
	s, err := scripted.ParseScript([]byte(overlapScript(layout, []int64{1, 2, 3, 4, 5})))
	if err != nil {
		t.Fatal(err)
	}
	// pm + edit for each, a conflict step for the four in pairs, a validator.
	if want := 5*2 + 4 + 1; len(s.Steps) != want {
		t.Fatalf("%d steps, want %d", len(s.Steps), want)
	}
	if !strings.Contains(s.Steps[0].Summary, "## Intent\n- files: "+pairFile(1)) {
		t.Fatalf("the plan of #1 names no intent on its file:\n%s", s.Steps[0].Summary)
	}
	if layout[2].file != pairFile(1) || layout[4].file != ownFile(5) {
		t.Fatalf("layout %+v", layout)
	}
}

// TestOverlapBenchSmall runs the mode with 4 issues, one overlapping pair,
// prediction off and on, and checks that every issue merged and that the
// counts hold together. It asserts no timing.
func TestOverlapBenchSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two whole organizations")
	}
	ctx := context.Background()
	var rs []OverlapResult
	for _, predict := range []bool{false, true} {
		var out bytes.Buffer
		r, err := RunOverlap(ctx, OverlapOptions{Issues: 4, Pairs: 1, Concurrency: 4, Predict: predict, Agent: os.Args[0], Out: &out, Keep: t.TempDir()})
		t.Logf("predict %t:\n%s", predict, out.String())
		if err != nil {
			t.Fatal(err)
		}
		if r.Predict != predict || r.Issues != 4 || r.Pairs != 1 || r.Merged != 4 || r.Kept != 4 {
			t.Fatalf("result %+v", r)
		}
		// Every conflict the developer met was resolved in an attempt of
		// its own, and each issue needs one attempt of its own besides.
		if r.ConflictAttempts != r.ConflictNOGOs || r.DevAttempts != r.Issues+r.ConflictAttempts {
			t.Fatalf("counts do not add up: %+v", r)
		}
		// Only the pair can conflict, once: the later of the two.
		if r.Conflicted > 1 || r.ConflictNOGOs > 1 || r.TrainDropped > 1 || r.TrainConflicts > r.TrainDrops || (r.TrainDropped == 0) != (r.TrainDrops == 0) {
			t.Fatalf("more conflicts than the one pair allows: %+v", r)
		}
		if predict && (r.Conflicted != 0 || r.DevAttempts != 4) {
			// With prediction the pair develops one after the other.
			t.Fatalf("with prediction the pair met a conflict: %+v", r)
		}
		if !predict && r.Conflicted != 1 {
			// Without prediction both develop on the same base.
			t.Fatalf("without prediction the pair met no conflict: %+v", r)
		}
		rs = append(rs, r)
	}
	var table bytes.Buffer
	if err := WriteOverlapTable(&table, rs); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", table.String())
	for _, want := range []string{"parallel.predict", "off", "on", "conflict NO-GOs", "merge-train drops", "left a train", "developer attempts on conflicts", "developer attempts (total)", "wall time", "all merged", "every change kept", "yes (4)"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("the table has no %q:\n%s", want, table.String())
		}
	}
}
