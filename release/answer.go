package release

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/agentorg/agentorg/fenced"
)

// AnswerFormat tells the release agent how to answer; the prompt carries it.
const AnswerFormat = "End your answer with one fenced JSON block, exactly:\n\n" +
	"```json\n{\"version\": \"0.2.0\", \"summary\": \"what this release brings, for its users\", \"kinds\": {\"12\": \"feature\"}}\n```\n\n" +
	"version is the MAJOR.MINOR.PATCH you propose (agentorg checks it against semantic versioning). " +
	"kinds is optional: for issues listed as \"other\", the kind you judge each to be: breaking, feature, fix or other."

// Answer is what the release agent answers. It is advice: the version is
// checked (Check) and the kinds only fill in what KindOf could not tell.
type Answer struct {
	Version string
	Summary string
	// Kinds are the agent's kinds for issues KindOf left as Other, by
	// issue number; Apply never lets them override a label or a
	// conventional title.
	Kinds map[int64]Kind
}

// ParseAnswer reads the release agent's answer: the last ```json fenced
// block of its final message, holding {"version", "summary", "kinds"}, read
// strictly by package fenced. An unknown key, a wrong type, a kinds key that
// is not an issue number or a kind that is not one of the four is an error
// saying which and where, so that the agent can be asked again. A version
// that does not parse is not an error here: Check decides the version
// anyway, and records what the agent proposed.
func ParseAnswer(text string) (Answer, error) {
	var raw struct {
		Version string            `json:"version"`
		Summary string            `json:"summary"`
		Kinds   map[string]string `json:"kinds"`
	}
	if err := fenced.Decode(text, &raw); err != nil {
		return Answer{}, err
	}
	a := Answer{Version: strings.TrimSpace(raw.Version), Summary: strings.TrimSpace(raw.Summary)}
	keys := make([]string, 0, len(raw.Kinds))
	for k := range raw.Kinds {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the first error found is the same every time
	for _, key := range keys {
		n, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(key), "#"), 10, 64)
		if err != nil || n <= 0 {
			return Answer{}, fmt.Errorf("kinds: key %q is not an issue number", key)
		}
		k := Kind(strings.ToLower(strings.TrimSpace(raw.Kinds[key])))
		if !k.known() {
			return Answer{}, fmt.Errorf("kinds[%q]: %q is not one of breaking, feature, fix, other", key, raw.Kinds[key])
		}
		if a.Kinds == nil {
			a.Kinds = map[int64]Kind{}
		}
		if _, dup := a.Kinds[n]; dup {
			return Answer{}, fmt.Errorf("kinds: issue %d is given twice", n)
		}
		a.Kinds[n] = k
	}
	if a.Version == "" && a.Summary == "" && len(a.Kinds) == 0 {
		return Answer{}, errors.New("the JSON block is empty: it needs at least a version")
	}
	return a, nil
}

// Apply returns a copy of items where each item KindOf left Other (or
// without a kind) takes the agent's kind for its issue, if the agent gave
// a known one. Items with a kind from a label or a title keep it: those are
// the issue's own declaration, the agent's kind is a reading of its text.
func (a Answer) Apply(items []Item) []Item {
	out := slices.Clone(items)
	for i, it := range out {
		if it.Kind.rank() > 0 {
			continue
		}
		if k, ok := a.Kinds[it.Issue]; ok && k.known() {
			out[i].Kind = k
		}
	}
	return out
}
