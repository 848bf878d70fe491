package triage

import (
	"fmt"
	"slices"
	"strings"

	"github.com/agentorg/agentorg/fenced"
)

// AnswerFormat tells the triage agent how to answer; the prompt carries it.
const AnswerFormat = "End your answer with one fenced JSON block, exactly:\n\n" +
	"```json\n{\"threads\": [{\"thread\": \"12\", \"class\": \"must-fix\", \"reason\": \"what is wrong, with file:line\"}]}\n```\n\n" +
	"with one entry per thread listed under \"Threads to triage\". class is one of: " +
	"must-fix (a defect to fix), suggestion (set \"accept\": true to make the change, false to decline; the reason says why), " +
	"question (put the reply in \"answer\"), out-of-scope (a follow-up issue: give it a \"title\"), " +
	"already-addressed (the reason says where). reason is never empty."

// ParseAnswer reads the triage agent's answer: the last ```json fenced block
// of its summary, holding {"threads": [...]}, with exactly one valid decision
// for each thread id in want. Anything else is an error saying what is
// wrong, so that the agent can be asked again.
func ParseAnswer(summary string, want []string) (map[string]Decision, error) {
	// An entry may name its thread "id", as the input (AGENTORG_INPUT)
	// does: an agent that echoes the input's key is understood.
	type entry struct {
		Decision
		ID string `json:"id"`
	}
	var ans struct {
		Threads []entry `json:"threads"`
	}
	if err := fenced.Decode(summary, &ans); err != nil {
		return nil, err
	}
	got := map[string]Decision{}
	for i, e := range ans.Threads {
		d := e.Decision
		switch {
		case d.Thread == "":
			d.Thread = e.ID
		case e.ID != "" && e.ID != d.Thread:
			return nil, fmt.Errorf("entry %d: thread %q and id %q differ", i+1, d.Thread, e.ID)
		}
		d.Reason, d.Answer, d.Title = strings.TrimSpace(d.Reason), strings.TrimSpace(d.Answer), strings.TrimSpace(d.Title)
		switch {
		case !slices.Contains(want, d.Thread):
			return nil, fmt.Errorf("entry %d: thread %q was not asked for", i+1, d.Thread)
		case got[d.Thread].Thread != "":
			return nil, fmt.Errorf("entry %d: thread %s is classified twice", i+1, d.Thread)
		case !slices.Contains(Classes, d.Class):
			return nil, fmt.Errorf("entry %d: class %q is not one of %s", i+1, d.Class, strings.Join(Classes, ", "))
		case d.Reason == "":
			return nil, fmt.Errorf("entry %d: thread %s has no reason", i+1, d.Thread)
		case d.Class == Question && d.Answer == "":
			return nil, fmt.Errorf("entry %d: question thread %s has no answer", i+1, d.Thread)
		case d.Class == OutOfScope && d.Title == "":
			return nil, fmt.Errorf("entry %d: out-of-scope thread %s has no title for its follow-up issue", i+1, d.Thread)
		case d.Accept && d.Class != Suggestion:
			return nil, fmt.Errorf("entry %d: thread %s: accept is only for suggestions", i+1, d.Thread)
		}
		got[d.Thread] = d
	}
	var missing []string
	for _, id := range want {
		if _, ok := got[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("threads %s are not classified", strings.Join(missing, ", "))
	}
	return got, nil
}
