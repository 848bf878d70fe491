package workflow

import (
	"regexp"
	"strconv"
	"strings"
)

// DefaultOptions fills in the workflow `agentorg init` writes.
type DefaultOptions struct {
	// Approvers may approve plans and merge requests. Pass at least one:
	// a gate without approvers is invalid.
	Approvers []string
	// TargetBranch is where work merges; "" means "main".
	TargetBranch string
	// RepoURL is the origin, a path (relative to the repository holding
	// the workflow) or a git URL; "" means "." (that repository itself).
	RepoURL string
	// Check is the validation command (run with sh -c), E2E the end-to-end
	// command. Both are required: agentorg cannot guess how a project is
	// tested, and left empty they make the written file fail validation at
	// the line to fill in.
	Check string
	E2E   string
	// AgentCommand is the argv of the coding agent. Required, like Check.
	AgentCommand []string
}

// Default returns the text of a complete, commented workflow following the
// standard lifecycle: plan, human plan review, develop, validate, human
// merge-request review, merge, end-to-end tests.
func Default(o DefaultOptions) []byte {
	target := o.TargetBranch
	if target == "" {
		target = DefaultTargetBranch
	}
	url := o.RepoURL
	if url == "" {
		url = DefaultRepoURL
	}
	r := strings.NewReplacer(
		"@URL@", yamlScalar(url),
		"@TARGET@", yamlScalar(target),
		"@APPROVERS@", yamlList(o.Approvers),
		"@CHECK@", yamlString(o.Check),
		"@E2E@", yamlString(o.E2E),
		"@COMMAND@", yamlList(o.AgentCommand),
	)
	return []byte(r.Replace(defaultTemplate))
}

// plainRE matches strings safe to write unquoted, in flow context too.
var plainRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_./@+-]*$`)

// yamlScalar writes s plain when that reads back as the same string, and
// double-quoted otherwise (Go escapes are valid YAML double-quoted escapes).
func yamlScalar(s string) string {
	if plainRE.MatchString(s) && !looksTyped(s) {
		return s
	}
	return yamlString(s)
}

// yamlString always quotes: commands are clearer quoted, and may hold
// characters YAML would take for syntax (#, :, &&).
func yamlString(s string) string { return strconv.Quote(s) }

// looksTyped reports plain scalars YAML would read as something other than a
// string (true, null, 1.5, 0x1F...).
func looksTyped(s string) bool {
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~":
		return true
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return true
	}
	_, err := strconv.ParseInt(s, 0, 64)
	return err == nil
}

func yamlList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = yamlString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

const defaultTemplate = `# agentorg workflow: how the engineering organization works on this repository.
#
# Issues are work queues and labels are their state. A human opts an issue in
# by adding the opt_in label; from there, stages (automated steps) and gates
# (human decisions) move the issue from label to label:
#
#   agentorg ──plan──▶ plan:review ══plan gate══▶ issue:approved ──pick──▶ dev:ready
#   dev:ready ──develop──▶ dev:done ──validate──▶ mr:ready-for-review
#   mr:ready-for-review ══merge gate══▶ mr:approved ──merge──▶ e2e:ready ──e2e──▶ e2e:done
#
# A rejected plan goes back to the PM, a failed validation or a rejected merge
# request goes back to a developer, and whenever the organization cannot
# converge the issue gets the escalation label for a human to look at.
#
# Run "agentorg check" after editing: it reports every problem with its line.
# Durations are Go durations: "90s", "10m", "1h30m".

version: 1

# The label a human adds to an issue to hand it to the organization.
opt_in: agentorg
# The label set when a human is needed: the budget ran out, a stage kept
# failing, or something unexpected happened.
escalation: needs:human

tracker:
  # embedded keeps issues and merge requests in agentorg's own store;
  # gitlab uses a GitLab project instead:
  #   kind: gitlab
  #   gitlab:
  #     url: https://gitlab.example.com
  #     project: group/name
  #     token: $GITLAB_TOKEN   # $NAME is read from the environment
  kind: embedded
  # The name the engine acts under. Its own label changes never count as
  # approvals.
  bot: agentorg

repo:
  # The repository to work on; "." is the one holding this file.
  url: @URL@
  # Where finished work is merged.
  target_branch: @TARGET@
  # Each issue is developed on its own branch: this prefix + issue number.
  branch_prefix: agentorg/issue-

budget:
  # Developer attempts per issue (the first one plus fixes after failed
  # validations) before the issue is escalated to a human.
  attempts: 3

# Every label the workflow uses: stages and gates may only name labels listed
# here. Colours must be quoted: an unquoted # starts a YAML comment.
labels:
  - name: agentorg
    color: "#5843ad"
    description: Opted in; the PM plans it
  - name: pm:running
    color: "#9e8ad9"
    description: The PM agent is writing a plan
  - name: plan:review
    color: "#ed9121"
    description: A plan waits for a human's approval
  - name: issue:approved
    color: "#428bca"
    description: Plan approved; waiting to be picked for development
  - name: dev:ready
    color: "#69d100"
    description: Ready for a developer agent
  - name: dev:running
    color: "#8fbc8f"
    description: A developer agent is working on it
  - name: dev:done
    color: "#009966"
    description: Change committed; waiting for validation
  - name: validate:running
    color: "#6699cc"
    description: Checks are running on the change
  - name: mr:ready-for-review
    color: "#ed9121"
    description: Validated; the merge request waits for a human's review
  - name: mr:approved
    color: "#428bca"
    description: Merge request approved; the engine merges it
  - name: e2e:ready
    color: "#ad8d43"
    description: Merged; end-to-end tests are queued
  - name: e2e:running
    color: "#d1b275"
    description: End-to-end tests are running on the target branch
  - name: e2e:done
    color: "#008000"
    description: Merged and end-to-end tests passed
  - name: e2e:failed
    color: "#d9534f"
    description: End-to-end tests failed after the merge
  - name: needs:human
    color: "#d10069"
    description: The organization is stuck; a human must look

# The agents stages can name. An agent of kind command is a program run in
# the issue's working tree with the rendered prompt; it sees no environment
# variable but PATH, HOME, LANG, TMPDIR and what env passes on purpose.
agents:
  coder:
    kind: command
    command: @COMMAND@
    # env:
    #   ANTHROPIC_API_KEY: $ANTHROPIC_API_KEY
    timeout: 30m        # hard limit for one run
    stall_timeout: 10m  # limit on silence: no output for this long ends the run

# Automated steps. A stage runs its role on issues that carry its "on" label,
# shows "running" while it works, then sets "success", or "failure" (the
# escalation label when left out). Roles: pm, pick, developer, validator,
# merge, e2e, and ci (on GitLab: waits for the merge request's pipeline and
# sends a failure back to the developer with the failed jobs' logs). pm and
# developer stages need an agent. concurrency (default 1) bounds the issues a
# stage works on at once.
stages:
  plan:
    role: pm
    agent: coder
    on: agentorg
    running: pm:running
    success: plan:review
  pick:
    role: pick
    on: issue:approved
    success: dev:ready
  develop:
    role: developer
    agent: coder
    on: dev:ready
    running: dev:running
    success: dev:done
    concurrency: 2
  validate:
    # Runs the checks below on a clean checkout of the developer's commit;
    # a failure sends the issue back to a developer with the report, until
    # the attempts budget runs out.
    role: validator
    on: dev:done
    running: validate:running
    success: mr:ready-for-review
    failure: dev:ready
  merge:
    role: merge
    on: mr:approved
    success: e2e:ready
  e2e:
    role: e2e
    on: e2e:ready
    running: e2e:running
    success: e2e:done
    failure: e2e:failed

# Human decisions. While an issue carries "waits", it waits for a human. The
# "approve" label only counts when one of the approvers adds it (anyone
# else's approval is undone, with a comment); "reject" sends the issue back,
# and the rejecting comment reaches the agent as feedback.
gates:
  plan:
    waits: plan:review
    approve: issue:approved
    reject: agentorg
    approvers: @APPROVERS@
  merge:
    # On a merge request, approvals are tied to the reviewed commit: new
    # commits void them.
    merge_request: true
    waits: mr:ready-for-review
    approve: mr:approved
    reject: dev:ready
    approvers: @APPROVERS@

# Validation commands, each run with sh -c in a clean checkout of the commit
# under validation. All must pass for a change to reach review.
checks:
  - name: test
    run: @CHECK@
    timeout: 10m

# The end-to-end command, run on the target branch after each merge.
e2e:
  run: @E2E@
  timeout: 20m

# Prompt templates (Go text/template). Fields: .Issue.Number, .Issue.Title,
# .Issue.Body, .Issue.Labels, .Repo.TargetBranch, .Repo.Branch, .Role,
# .Attempt, .Plan (the approved plan), .Report (the last validation report)
# and .Feedback (what a human said when rejecting). A misspelt field is an
# error that "agentorg check" reports.
prompts:
  # The PM plans an opted-in issue; its final message becomes the plan a
  # human reviews.
  pm: |
    You are the product manager of a small software team. Plan the work for
    issue #{{.Issue.Number}} of this repository. Read whatever code you need,
    but do not change any file: your answer is the plan.

    Issue #{{.Issue.Number}}: {{.Issue.Title}}

    {{.Issue.Body}}
    {{- if .Feedback}}

    A human rejected the previous plan with this feedback. Address it:

    {{.Feedback}}
    {{- end}}

    Answer with the plan only, in Markdown, with these sections:

    ## Goal
    One or two sentences: what is different for users once this is done.

    ## Approach
    The files and functions to change and how, limited to what the issue
    asks for.

    ## Acceptance criteria
    A checklist ("- [ ] ...") of observable, testable outcomes, including the
    tests that must exist and pass.

    ## Out of scope
    What this issue does not cover.

    If the issue is too unclear to plan, say exactly which questions a human
    must answer instead of guessing.

  # The developer implements the approved plan in the issue's working tree.
  developer: |
    You are a software developer. Implement issue #{{.Issue.Number}} in this
    working tree, on branch {{.Repo.Branch}}; it will be merged into
    {{.Repo.TargetBranch}} after validation and review.

    Issue #{{.Issue.Number}}: {{.Issue.Title}}

    {{.Issue.Body}}

    The approved plan:

    {{.Plan}}
    {{- if .Feedback}}

    A reviewer sent the previous change back with this feedback. Address it:

    {{.Feedback}}
    {{- end}}

    Rules:
    - Change only what the issue and the plan need: no unrelated refactoring,
      renaming or reformatting.
    - Add or update tests for each acceptance criterion, and run the tests
      before you finish.
    - Do not commit, push or switch branches: the engine commits your changes
      when you are done.

    Finish with a short summary of what you changed and why.

  # The developer's follow-up in the same session: after a failed validation
  # (a NO-GO, with its report), or after a reviewer sent the change back
  # (with their feedback).
  fix: |
    You are a software developer. Your change for issue #{{.Issue.Number}}
    {{- if .Feedback}} was sent back by a reviewer.{{else}} failed validation.{{end}}
    This working tree, on branch {{.Repo.Branch}}, holds that change; this is
    attempt {{.Attempt}}.

    Issue #{{.Issue.Number}}: {{.Issue.Title}}

    The approved plan:

    {{.Plan}}
    {{- if .Feedback}}

    The reviewer's feedback:

    {{.Feedback}}
    {{- else}}

    Validation report of the failed attempt:

    {{.Report}}
    {{- end}}

    Make targeted fixes for what it shows, and nothing else: do not
    start over, and never weaken, skip or delete a test to make it pass. Do
    not commit: the engine commits your changes.

    Finish with a short summary of each fix.
`
