package role

import (
	"encoding/json"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/check"
	"github.com/agentorg/agentorg/criteria"
	"github.com/agentorg/agentorg/workflow"
)

// The structured inputs of the judging roles (agentorg.Task.Input): what the
// prompt says in prose, as JSON, so that an agent program need not parse
// prose to learn which criteria or threads to answer for. The format is
// documented in docs/agent-protocol.md; fields are only ever added.

type inputIssue struct {
	Number int64    `json:"number"`
	Title  string   `json:"title"`
	Body   string   `json:"body"`
	Labels []string `json:"labels"`
}

type inputCriterion struct {
	ID      int    `json:"id"`
	Text    string `json:"text"`
	Command string `json:"command,omitempty"`
	// Verdict and Evidence are set for a criterion already checked by
	// running its command; the agent judges the others (Judge).
	Verdict  string `json:"verdict,omitempty"`
	Evidence string `json:"evidence,omitempty"`
}

type inputCheck struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	Reason string `json:"reason,omitempty"`
	Output string `json:"output,omitempty"` // the end of it, when it failed
}

// validatorInput is the validator agent's task.
type validatorInput struct {
	Role         string           `json:"role"`
	Issue        inputIssue       `json:"issue"`
	TargetBranch string           `json:"target_branch"`
	Criteria     []inputCriterion `json:"criteria"`
	Judge        []int            `json:"judge"` // ids of the criteria to judge
	Checks       []inputCheck     `json:"checks"`
	Diff         string           `json:"diff"`
}

type inputNote struct {
	Author string `json:"author"`
	Body   string `json:"body"`
}

type inputThread struct {
	ID    string      `json:"id"`
	Path  string      `json:"path,omitempty"`
	Line  int         `json:"line,omitempty"`
	Notes []inputNote `json:"notes"`
	// Context is the numbered lines of Path around Line, from the change.
	Context string `json:"context,omitempty"`
}

// triageInput is the triage agent's task: Threads to answer for, Others
// (people who are not reviewers) as data only.
type triageInput struct {
	Role         string        `json:"role"`
	Issue        inputIssue    `json:"issue"`
	TargetBranch string        `json:"target_branch"`
	Plan         string        `json:"plan"`
	MR           int64         `json:"merge_request"`
	Head         string        `json:"head"`
	Threads      []inputThread `json:"threads"`
	Others       []inputThread `json:"others"`
	Diff         string        `json:"diff"`
}

func issueInput(is agentorg.Issue) inputIssue {
	labels := is.Labels
	if labels == nil {
		labels = []string{}
	}
	return inputIssue{Number: is.Number, Title: is.Title, Body: is.Body, Labels: labels}
}

func validatorInputJSON(w *workflow.Workflow, is agentorg.Issue, crits []criteria.Criterion, done []criteria.Result, judge []int, results []check.Result, diff string) []byte {
	in := validatorInput{Role: agentorg.RoleValidator, Issue: issueInput(is), TargetBranch: w.Repo.TargetBranch,
		Criteria: []inputCriterion{}, Judge: judge, Checks: []inputCheck{}, Diff: headTrim(diff, diffMax)}
	for i, c := range crits {
		ic := inputCriterion{ID: c.ID, Text: c.Text, Command: c.Command}
		if done[i].Verdict != "" {
			ic.Verdict, ic.Evidence = done[i].Verdict, done[i].Evidence
		}
		in.Criteria = append(in.Criteria, ic)
	}
	for _, r := range results {
		ic := inputCheck{Name: r.Name, Passed: r.Passed, Reason: r.Reason}
		if !r.Passed {
			ic.Output = check.Trim(r.Output, 2<<10)
		}
		in.Checks = append(in.Checks, ic)
	}
	return mustJSON(in)
}

func threadInput(th agentorg.ReviewThread, context string) inputThread {
	it := inputThread{ID: th.ID, Path: th.Path, Line: th.Line, Notes: []inputNote{}, Context: context}
	for _, n := range th.Notes {
		it.Notes = append(it.Notes, inputNote{Author: n.Author, Body: n.Body})
	}
	return it
}

// mustJSON marshals what only holds strings, numbers and slices of them.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
