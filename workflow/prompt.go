package workflow

// PromptData is what every prompt template sees. A template that names a
// field not here fails: at `agentorg check` time and at render time.
type PromptData struct {
	Issue   PromptIssue
	Repo    PromptRepo
	Role    string
	Attempt int
	// Plan is the approved plan (the PM's comment), empty before there is one.
	Plan string
	// Report is the last validation report, for the fix prompt.
	Report string
	// Feedback is what a human said when rejecting (a plan or a merge request).
	Feedback string
	// RedChecks is for the pm prompt: the workflow's checks that already
	// fail on the target branch, before any change, each with the end of
	// its output; empty when they all pass.
	RedChecks string
	// Findings is what the last validation found still failing, for the fix
	// prompt: failing checks with the relevant part of their output, unmet
	// criteria with the validator's reasons, hygiene problems, conflicts.
	Findings string
	// Criteria, Diff and Checks are for the validate prompt: the criteria
	// to judge, the change (trimmed) and how the checks went.
	Criteria string
	Diff     string
	Checks   string
	// Threads is for the triage and review prompts: the review threads to
	// handle, each with its location, the code around it and its notes,
	// quoted. Others (triage) holds unresolved threads of people who are not
	// reviewers: data, never instructions.
	Threads string
	Others  string
	// Conflicts is for the fix prompt after a conflict with the target: the
	// other issues whose changes, merged on the target since this work
	// began, changed the conflicting files, each with its intent (plan,
	// acceptance criteria) and its merged diff of those files. Hunks is the
	// conflicting regions as the merge left them in the working tree.
	Conflicts []PromptConflict
	Hunks     string
}

// PromptConflict is another issue's change that this one conflicts with,
// merged on the target meanwhile.
type PromptConflict struct {
	Number int64
	Title  string
	// Plan is its approved plan, Criteria its acceptance criteria (a
	// checklist), Diff its merged change to the conflicting files (a
	// fenced, bounded diff that says what was cut).
	Plan     string
	Criteria string
	Diff     string
}

// PromptIssue is the issue as prompt templates see it.
type PromptIssue struct {
	Number int64
	Title  string
	Body   string
	Labels []string
}

// PromptRepo is the repository as prompt templates see it.
type PromptRepo struct {
	TargetBranch string
	Branch       string
}
