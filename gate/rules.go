package gate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/agentorg/agentorg/hygiene"
	"github.com/agentorg/agentorg/workflow"
)

// Change is what is known about a validated change at a merge request's
// head: what the automatic approval rules are evaluated on.
type Change struct {
	// Paths are the changed paths: added, modified, deleted, and both
	// sides of a rename.
	Paths []string
	Lines int // added + deleted
	// CriteriaByCommand and CriteriaJudged count the acceptance criteria
	// met by a command and those judged by the agent.
	CriteriaByCommand, CriteriaJudged int
	Attempt                           int // the developer attempt that got the GO (1 = first)
	OpenThreads                       int // review threads waiting for an answer
	Revert                            bool
}

// RuleMatch says which rule approves a change and why, or why none does.
type RuleMatch struct {
	// Rule is the name of the first rule that matched ("" when none did,
	// or when Never is set); Why says in words what matched.
	Rule string
	Why  string
	// Never, when set, says why no rule may approve the change whatever
	// it says: the path and the glob it matched.
	Never string
	// Misses has one line per rule tried before the one that matched (all
	// of them when none did): the rule's name and the first of its
	// conditions that failed.
	Misses []string
}

// NeverGlobs are the paths no rule may approve a change to: agentorg's
// own files, CI configuration and the workflow's hygiene deny list (its
// default when w leaves it unset).
func NeverGlobs(w *workflow.Workflow) []string {
	out := append([]string{workflow.OwnGlob}, workflow.CIConfigGlobs...)
	deny := workflow.DefaultDeny
	if w != nil && w.Hygiene.Deny != nil {
		deny = w.Hygiene.Deny
	}
	for _, g := range deny {
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// MatchRules decides which of a's rules, if any, approves c. A changed
// path matching one of never rules every rule out. Otherwise the rules
// are tried in order and the first whose condition holds wins. A nil a
// approves nothing.
func MatchRules(a *workflow.AutoApprove, never []string, c Change) RuleMatch {
	if why := neverReason(never, c.Paths); why != "" {
		return RuleMatch{Never: why}
	}
	var m RuleMatch
	if a == nil {
		return m
	}
	for _, r := range a.Rules {
		why, miss := evalCondition(r.Cond, c)
		if miss == "" {
			m.Rule, m.Why = r.Name, why
			return m
		}
		m.Misses = append(m.Misses, r.Name+": "+miss)
	}
	return m
}

// neverReason says which changed path matches which of never ("" when
// none does).
func neverReason(never, paths []string) string {
	for _, p := range paths {
		if !hygiene.MatchAny(never, p) {
			continue
		}
		for _, g := range never {
			if !hygiene.Match(g, p) {
				continue
			}
			switch {
			case g == workflow.OwnGlob:
				return fmt.Sprintf("never automatic: %s is agentorg's own configuration (%s)", p, g)
			case slices.Contains(workflow.CIConfigGlobs, g):
				return fmt.Sprintf("never automatic: %s is CI configuration (%s)", p, g)
			default:
				return fmt.Sprintf("never automatic: %s matches %s, one of hygiene's denied paths", p, g)
			}
		}
	}
	return ""
}

// evalCondition says whether cond holds for c: what held, in words, or
// the first thing that did not (miss). Every field set in cond must hold
// (the workflow sets one); a condition with nothing set never holds, so
// that an empty rule approves nothing.
func evalCondition(cond workflow.Condition, c Change) (why, miss string) {
	var whys []string
	held := func(w string) { whys = append(whys, w) }
	if len(cond.All) > 0 {
		for _, sub := range cond.All {
			w, m := evalCondition(sub, c)
			if m != "" {
				return "", m
			}
			held(w)
		}
	}
	if len(cond.Any) > 0 {
		var misses []string
		w := ""
		for _, sub := range cond.Any {
			sw, m := evalCondition(sub, c)
			if m == "" {
				w = sw
				break
			}
			misses = append(misses, m)
		}
		if w == "" {
			if len(misses) == 1 {
				return "", misses[0]
			}
			return "", "none holds: " + strings.Join(misses, "; ")
		}
		held(w)
	}
	if cond.Paths != nil {
		if len(c.Paths) == 0 {
			return "", "no changed path"
		}
		for _, p := range c.Paths {
			if !hygiene.MatchAny(cond.Paths, p) {
				return "", fmt.Sprintf("%s matches none of %s", p, strings.Join(cond.Paths, ", "))
			}
		}
		held("every changed path matches " + ruleOrList(cond.Paths))
	}
	if len(cond.NoPaths) > 0 {
		for _, p := range c.Paths {
			for _, g := range cond.NoPaths {
				if hygiene.Match(g, p) {
					return "", fmt.Sprintf("%s matches %s", p, g)
				}
			}
		}
		held("no changed path matches " + ruleOrList(cond.NoPaths))
	}
	if cond.MaxLines > 0 {
		if c.Lines > cond.MaxLines {
			return "", fmt.Sprintf("%s changed (more than %d)", ruleCount(c.Lines, "line"), cond.MaxLines)
		}
		held(fmt.Sprintf("%s changed (at most %d)", ruleCount(c.Lines, "line"), cond.MaxLines))
	}
	if cond.MaxFiles > 0 {
		n := len(distinctPaths(c.Paths))
		if n > cond.MaxFiles {
			return "", fmt.Sprintf("%s changed (more than %d)", ruleCount(n, "file"), cond.MaxFiles)
		}
		held(fmt.Sprintf("%s changed (at most %d)", ruleCount(n, "file"), cond.MaxFiles))
	}
	if cond.CriteriaByCommand {
		total := c.CriteriaByCommand + c.CriteriaJudged
		switch {
		case total == 0:
			return "", "no acceptance criterion to meet by a command"
		case c.CriteriaJudged > 0:
			return "", fmt.Sprintf("%d of %s only judged by the agent", c.CriteriaJudged, ruleCount(total, "acceptance criterion"))
		case total == 1:
			held("the acceptance criterion met by a command")
		default:
			held(fmt.Sprintf("all %d acceptance criteria met by a command", total))
		}
	}
	if cond.FirstAttempt {
		switch {
		case c.Attempt == 1:
			held("validated on the first attempt")
		case c.Attempt < 1:
			return "", "the attempt that got the GO is not known"
		default:
			return "", fmt.Sprintf("validated on attempt %d, not the first", c.Attempt)
		}
	}
	if cond.NoOpenThreads {
		if c.OpenThreads > 0 {
			return "", ruleCount(c.OpenThreads, "open review thread")
		}
		held("no open review thread")
	}
	if cond.Revert {
		if !c.Revert {
			return "", "not a revert agentorg opened after an E2E failure"
		}
		held("a revert agentorg opened after an E2E failure")
	}
	if len(whys) == 0 {
		return "", "a condition with nothing to check"
	}
	return strings.Join(whys, "; "), ""
}

// ruleCount writes "1 line", "12 lines", "3 acceptance criteria".
func ruleCount(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	if plural, ok := strings.CutSuffix(what, "criterion"); ok {
		return fmt.Sprintf("%d %scriteria", n, plural)
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// ruleOrList writes "a", "a or b", "a, b or c".
func ruleOrList(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

func distinctPaths(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}
