package hygiene

import (
	"fmt"
	"strings"
)

// ownCommits is what a developer does about a commit agentorg did not
// write: agentorg commits the working tree itself, with its own message.
const ownCommits = "agentorg commits your work itself: take this commit out of the branch (`git reset --soft` to the commit before it), leaving its changes in the working tree, uncommitted"

// commits checks what a push carries besides files: each commit's message
// and identities are scanned for secrets, and each must be agentorg's own.
func (c *checker) commits(cs []Commit) {
	for _, cm := range cs {
		if where, name, ok := commitSecret(cm); ok {
			c.add(Finding{KindMessage, short(cm.SHA), fmt.Sprintf("the %s of commit %.10s looks like it holds a %s", where, cm.SHA, name), ownCommits})
		}
		if f, ok := identityFinding(c.r.Identity, cm); ok {
			c.add(f)
		}
	}
}

// commitSecret finds secret-looking text in a commit's message, author or
// committer.
func commitSecret(cm Commit) (where, name string, ok bool) {
	for _, f := range []struct{ where, text string }{
		{"message", cm.Message},
		{"author", cm.Author.String()},
		{"committer", cm.Committer.String()},
	} {
		if name, ok := Secret(f.text); ok {
			return f.where, name, true
		}
	}
	return "", "", false
}

// identityFinding refuses a commit whose author or committer is not id.
// The engine folds an agent's own commits into its own, so this fires only
// when that did not happen: it is the guard, not the flow.
func identityFinding(id Person, cm Commit) (Finding, bool) {
	if id == (Person{}) || (cm.Author == id && cm.Committer == id) {
		return Finding{}, false
	}
	var who []string
	switch {
	case cm.Author == cm.Committer:
		who = append(who, "made by "+shown(cm.Author.String()))
	default:
		if cm.Author != id {
			who = append(who, "authored by "+shown(cm.Author.String()))
		}
		if cm.Committer != id {
			who = append(who, "committed by "+shown(cm.Committer.String()))
		}
	}
	return Finding{KindIdentity, short(cm.SHA), fmt.Sprintf("commit %.10s was %s, not by agentorg (%s)", cm.SHA, strings.Join(who, " and "), shown(id.String())), ownCommits}, true
}

// short is the part of a SHA a key keeps: stable while the commit is in
// the branch.
func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
