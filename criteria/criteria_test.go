package criteria

import (
	"strings"
	"testing"
)

func TestParseFindsTheSectionAndCommands(t *testing.T) {
	md := "Intro.\n\n- [ ] not a criterion: outside the section\n\n" +
		"## Acceptance criteria\n" +
		"- [ ] Sub(a, b) returns a - b\n" +
		"- [x] `go test ./...` passes\n" +
		"* [ ] `Sub(a, b)` is documented\n" +
		"  and has an example\n" +
		"+ [ ] running `make lint` exits with status 0\n" +
		"- plain bullet, not a checklist item\n" +
		"### Notes inside\n" +
		"- [ ] `go vet ./...` succeeds\n" +
		"## Out of scope\n" +
		"- [ ] never read\n"
	got := Parse(md)
	want := []Criterion{
		{1, "Sub(a, b) returns a - b", "", 0},
		{2, "`go test ./...` passes", "go test ./...", 0},
		{3, "`Sub(a, b)` is documented and has an example", "", 0},
		{4, "running `make lint` exits with status 0", "make lint", 0},
		{5, "`go vet ./...` succeeds", "go vet ./...", 0},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d criteria %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("criterion %d = %+v, want %+v", i+1, got[i], want[i])
		}
	}
}

func TestParseLabelLineAndNone(t *testing.T) {
	got := Parse("Do it.\n\n**Acceptance criteria:**\n- [ ] one\n- [ ] two\n\n# Next\n- [ ] no\n")
	if len(got) != 2 || got[1].Text != "two" {
		t.Fatalf("got %+v", got)
	}
	if got := Parse("# Title\n- [ ] a task, but no criteria section\n"); len(got) != 0 {
		t.Fatalf("want none, got %+v", got)
	}
}

func TestFromIssueOrPlanPrefersTheIssue(t *testing.T) {
	cs, src := FromIssueOrPlan("## Acceptance criteria\n- [ ] from issue\n", "## Acceptance criteria\n- [ ] from plan\n")
	if src != "issue" || len(cs) != 1 || cs[0].Text != "from issue" {
		t.Fatalf("%s %+v", src, cs)
	}
	cs, src = FromIssueOrPlan("no section", "## Acceptance criteria\n- [ ] from plan\n")
	if src != "plan" || len(cs) != 1 || cs[0].Text != "from plan" {
		t.Fatalf("%s %+v", src, cs)
	}
	if cs, src = FromIssueOrPlan("", ""); cs != nil || src != "" {
		t.Fatalf("%s %+v", src, cs)
	}
}

func TestParseAnswer(t *testing.T) {
	good := "I read the diff.\n\n```json\n{\"criteria\": [{\"id\": 1, \"verdict\": \"met\", \"evidence\": \"sub.go:4\"}, {\"id\": 3, \"verdict\": \"unmet\", \"evidence\": \"no example\"}]}\n```\n"
	got, err := ParseAnswer(good, []int{1, 3})
	if err != nil {
		t.Fatal(err)
	}
	if got[1].Verdict != Met || got[3].Verdict != Unmet || got[3].Evidence != "no example" {
		t.Fatalf("%+v", got)
	}
	bad := map[string]string{
		"no block":        "All criteria are met.",
		"broken json":     "```json\n{\"criteria\": [\n```",
		"unknown field":   "```json\n{\"criteria\": [], \"extra\": 1}\n```",
		"bad verdict":     "```json\n{\"criteria\": [{\"id\": 1, \"verdict\": \"yes\", \"evidence\": \"x\"}, {\"id\": 3, \"verdict\": \"met\", \"evidence\": \"x\"}]}\n```",
		"no evidence":     "```json\n{\"criteria\": [{\"id\": 1, \"verdict\": \"met\", \"evidence\": \" \"}, {\"id\": 3, \"verdict\": \"met\", \"evidence\": \"x\"}]}\n```",
		"missing":         "```json\n{\"criteria\": [{\"id\": 1, \"verdict\": \"met\", \"evidence\": \"x\"}]}\n```",
		"not asked":       "```json\n{\"criteria\": [{\"id\": 2, \"verdict\": \"met\", \"evidence\": \"x\"}]}\n```",
		"judged twice":    "```json\n{\"criteria\": [{\"id\": 1, \"verdict\": \"met\", \"evidence\": \"x\"}, {\"id\": 1, \"verdict\": \"met\", \"evidence\": \"x\"}]}\n```",
		"two json values": "```json\n{\"criteria\": []} {}\n```",
	}
	for name, s := range bad {
		if _, err := ParseAnswer(s, []int{1, 3}); err == nil {
			t.Errorf("%s: accepted %q", name, s)
		}
	}
	// The last block counts: an agent may quote an example before answering.
	two := "Example:\n```json\n{\"criteria\": []}\n```\nAnswer:\n```json\n{\"criteria\": [{\"id\": 1, \"verdict\": \"unclear\", \"evidence\": \"cannot tell\"}]}\n```"
	if got, err := ParseAnswer(two, []int{1}); err != nil || got[1].Verdict != Unclear {
		t.Fatalf("%+v %v", got, err)
	}
}

func TestTableEscapes(t *testing.T) {
	tb := Table([]Result{{Criterion: Criterion{ID: 1, Text: "a | b"}, Verdict: Unmet, Evidence: "line1\nline2", By: "command"}})
	if !strings.Contains(tb, `| 1 | a \| b | **unmet** | command: line1 line2 |`) {
		t.Fatalf("table:\n%s", tb)
	}
}

// Another issue's criterion, run on the combined tree after a cross-agent
// conflict, says whose it is.
func TestTableCrossAgentCriterionSaysWhose(t *testing.T) {
	tb := Table([]Result{{Criterion: Criterion{ID: 2, Text: "`grep -q one shared.txt` passes", Command: "grep -q one shared.txt", From: 12}, Verdict: Met, Evidence: "passed", By: "command"}})
	if !strings.Contains(tb, "| 2 (from #12) | `grep -q one shared.txt` passes | met | command: passed |") {
		t.Fatalf("table:\n%s", tb)
	}
}
