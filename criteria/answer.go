package criteria

import (
	"fmt"
	"strings"

	"github.com/agentorg/agentorg/fenced"
)

// Judgement is the validator agent's verdict on one criterion.
type Judgement struct {
	ID       int    `json:"id"`
	Verdict  string `json:"verdict"`
	Evidence string `json:"evidence"`
}

// AnswerFormat tells the validator agent how to answer; the prompt carries it.
const AnswerFormat = "End your answer with one fenced JSON block, exactly:\n\n" +
	"```json\n{\"criteria\": [{\"id\": 1, \"verdict\": \"met\", \"evidence\": \"what you saw, with file:line\"}]}\n```\n\n" +
	"with one entry per criterion you were asked to judge; verdict is met, unmet or unclear, and evidence is never empty."

// ParseAnswer reads the validator agent's answer: the last ```json fenced
// block of its summary, holding {"criteria": [{id, verdict, evidence}]}, with
// exactly one entry for each id in want. Anything else is an error saying
// what is wrong, so that the agent can be asked again.
func ParseAnswer(summary string, want []int) (map[int]Judgement, error) {
	var ans struct {
		Criteria []Judgement `json:"criteria"`
	}
	if err := fenced.Decode(summary, &ans); err != nil {
		return nil, err
	}
	wanted := map[int]bool{}
	for _, id := range want {
		wanted[id] = true
	}
	got := map[int]Judgement{}
	for i, j := range ans.Criteria {
		switch {
		case !wanted[j.ID]:
			return nil, fmt.Errorf("entry %d: criterion id %d was not asked for", i+1, j.ID)
		case got[j.ID].ID != 0:
			return nil, fmt.Errorf("entry %d: criterion %d is judged twice", i+1, j.ID)
		case j.Verdict != Met && j.Verdict != Unmet && j.Verdict != Unclear:
			return nil, fmt.Errorf("entry %d: verdict %q is not met, unmet or unclear", i+1, j.Verdict)
		case strings.TrimSpace(j.Evidence) == "":
			return nil, fmt.Errorf("entry %d: criterion %d has no evidence", i+1, j.ID)
		}
		got[j.ID] = j
	}
	var missing []string
	for _, id := range want {
		if _, ok := got[id]; !ok {
			missing = append(missing, fmt.Sprint(id))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("criteria %s are not judged", strings.Join(missing, ", "))
	}
	return got, nil
}
