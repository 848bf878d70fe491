package workflow

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	yaml "github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// This file is the generic layer between the YAML AST and the workflow
// schema: it turns nodes into Go values while recording every problem with
// the position of the node that caused it, and never stops at the first one.

// decoder accumulates problems and the positions the semantic checks need.
type decoder struct {
	file      string
	lines     []string // source lines, for block scalar indentation and hints
	lookupEnv func(string) (string, bool)
	anchors   map[string]ast.Node
	problems  Problems
	warnings  Problems // what does not stop the workflow loading
	merging   int      // depth of merge keys being expanded, to stop self-merges
	// parallelSet: the file says parallel.predict (default true).
	parallelSet bool

	// keyPos and valPos map a path (see at) to where that key and its value
	// were written; validation points at uses through them.
	keyPos map[string]Position
	valPos map[string]Position
	// prompts keeps each prompt's value node to map template errors back
	// to file positions.
	prompts map[string]value
	// implied holds the paths (stages.<name>, gates.<name>) of what the
	// workflow adds itself rather than reads: the release lifecycle.
	implied map[string]bool
}

func newDecoder(file string, data []byte, lookupEnv func(string) (string, bool)) *decoder {
	return &decoder{
		file:      file,
		lines:     strings.Split(string(data), "\n"),
		lookupEnv: lookupEnv,
		anchors:   map[string]ast.Node{},
		keyPos:    map[string]Position{},
		valPos:    map[string]Position{},
		prompts:   map[string]value{},
	}
}

func (d *decoder) errorf(pos Position, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Pos: pos, Message: fmt.Sprintf(format, args...)})
}

func (d *decoder) warnf(pos Position, format string, args ...any) {
	d.warnings = append(d.warnings, Problem{File: d.file, Pos: pos, Message: fmt.Sprintf(format, args...)})
}

// at joins path elements. NUL cannot occur in names written in YAML plain
// text, so paths never collide.
// Empty parts are dropped, so that top-level keys have one-part paths.
func at(parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, "\x00")
}

// syntaxError records a parser error; the parser stops at the first one.
func (d *decoder) syntaxError(err error) {
	var ye yaml.Error
	if errors.As(err, &ye) {
		d.errorf(tokenPos(ye.GetToken()), "%s", ye.GetMessage())
		return
	}
	d.errorf(Position{}, "%v", err)
}

func tokenPos(tk *token.Token) Position {
	if tk == nil || tk.Position == nil {
		return Position{}
	}
	return Position{Line: tk.Position.Line, Column: max(tk.Position.Column, 1)}
}

// nodePos is where a node starts as a reader sees it.
func nodePos(n ast.Node) Position {
	switch v := n.(type) {
	case nil:
		return Position{}
	case *ast.MappingNode:
		// A block mapping's own token is the first ':'; its first key is
		// where it visibly starts.
		if !v.IsFlowStyle && len(v.Values) > 0 {
			return nodePos(v.Values[0].Key)
		}
	case *ast.MappingValueNode:
		return nodePos(v.Key)
	case *ast.LiteralNode:
		return tokenPos(v.Start)
	}
	return tokenPos(n.GetToken())
}

// collectAnchors records every anchor so aliases can be resolved wherever
// they appear.
func (d *decoder) collectAnchors(n ast.Node) {
	switch v := n.(type) {
	case *ast.AnchorNode:
		if v.Name != nil && v.Name.GetToken() != nil {
			d.anchors[v.Name.GetToken().Value] = v.Value
		}
		d.collectAnchors(v.Value)
	case *ast.TagNode:
		d.collectAnchors(v.Value)
	case *ast.MappingNode:
		for _, mv := range v.Values {
			d.collectAnchors(mv.Key)
			d.collectAnchors(mv.Value)
		}
	case *ast.MappingValueNode:
		d.collectAnchors(v.Key)
		d.collectAnchors(v.Value)
	case *ast.SequenceNode:
		for _, e := range v.Values {
			d.collectAnchors(e)
		}
	}
}

// resolve follows anchors, aliases and tags to the node that holds the data;
// it returns nil for null.
func (d *decoder) resolve(n ast.Node) ast.Node {
	for range 64 { // bounds alias chains
		switch v := n.(type) {
		case nil, *ast.NullNode:
			return nil
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		case *ast.AliasNode:
			name := ""
			if v.Value != nil && v.Value.GetToken() != nil {
				name = v.Value.GetToken().Value
			}
			target, ok := d.anchors[name]
			if !ok {
				d.errorf(nodePos(v), "alias *%s refers to no anchor &%s", name, name)
				return nil
			}
			n = target
		default:
			return n
		}
	}
	d.errorf(nodePos(n), "alias chain too deep")
	return nil
}

// value is a node being read, with what it is for messages
// (`concurrency in stage "develop"`).
type value struct {
	node ast.Node // resolved; nil for null
	pos  Position
	desc string
}

// entry is one key of a mapping.
type entry struct {
	key    string
	keyPos Position
	v      value
}

// describe names a node's kind, with the text of scalars, for "must be X,
// not Y" messages.
func describe(n ast.Node) string {
	switch v := n.(type) {
	case nil:
		return "nothing"
	case *ast.MappingNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode:
		return fmt.Sprintf("the string %q", shorten(v.Value))
	case *ast.LiteralNode:
		return "a block of text"
	case *ast.IntegerNode:
		return "the integer " + v.GetToken().Value
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "the number " + v.GetToken().Value
	case *ast.BoolNode:
		return "the boolean " + v.GetToken().Value
	}
	return "a " + strings.ToLower(n.Type().String())
}

func shorten(s string) string {
	if utf8.RuneCountInString(s) <= 40 {
		return s
	}
	return string([]rune(s)[:37]) + "..."
}

// in phrases the container of a key for messages.
func in(what string) string {
	if what == "" {
		return " at the top level"
	}
	return " in " + what
}

// child describes a key inside what.
func child(key, what string) string {
	if what == "" {
		return key
	}
	return key + " in " + what
}

// mapping returns the entries of a mapping in file order, with merge keys
// (<<) expanded and duplicate keys reported. A null value is an empty
// mapping; ok is false when the node is not a mapping at all.
func (d *decoder) mapping(v value) (entries []entry, ok bool) {
	if v.node == nil {
		return nil, true
	}
	m, isMap := v.node.(*ast.MappingNode)
	if !isMap {
		d.errorf(v.pos, "%s must be a mapping, not %s", nonEmpty(v.desc, "the workflow"), describe(v.node))
		return nil, false
	}
	seen := map[string]Position{}
	var merged []entry
	for _, mv := range m.Values {
		if mv.Key.IsMergeKey() {
			merged = append(merged, d.merge(value{node: d.resolve(mv.Value), pos: nodePos(mv.Value), desc: v.desc})...)
			continue
		}
		kp := nodePos(mv.Key)
		key, ok := d.keyText(mv.Key, kp, v.desc)
		if !ok {
			continue
		}
		if first, dup := seen[key]; dup {
			d.errorf(kp, "duplicate key %q%s (first at line %d)", key, in(v.desc), first.Line)
			continue
		}
		seen[key] = kp
		entries = append(entries, entry{key: key, keyPos: kp, v: value{
			node: d.resolve(mv.Value),
			pos:  nodePos(mv.Value),
			desc: child(key, v.desc),
		}})
	}
	// Keys written in the mapping itself win over merged ones.
	for _, e := range merged {
		if _, dup := seen[e.key]; !dup {
			seen[e.key] = e.keyPos
			entries = append(entries, e)
		}
	}
	return entries, true
}

// merge reads the value of a merge key: one mapping or a list of them.
func (d *decoder) merge(v value) []entry {
	if d.merging > 16 {
		d.errorf(v.pos, "merge keys (<<) nest too deeply; does an anchor merge itself?")
		return nil
	}
	d.merging++
	defer func() { d.merging-- }()
	if s, ok := v.node.(*ast.SequenceNode); ok {
		var out []entry
		for _, it := range s.Values {
			out = append(out, d.merge(value{node: d.resolve(it), pos: nodePos(it), desc: v.desc})...)
		}
		return out
	}
	entries, _ := d.mapping(v)
	return entries
}

func (d *decoder) keyText(k ast.Node, pos Position, what string) (string, bool) {
	n := d.resolve(k)
	if mk, ok := n.(*ast.MappingKeyNode); ok {
		n = d.resolve(mk.Value)
	}
	switch v := n.(type) {
	case nil:
		d.errorf(pos, "empty key%s", in(what))
		return "", false
	case *ast.StringNode:
		return v.Value, true
	case *ast.MappingNode, *ast.SequenceNode, *ast.LiteralNode:
		d.errorf(pos, "keys must be plain strings%s, not %s", in(what), describe(n))
		return "", false
	}
	return n.GetToken().Value, true
}

func nonEmpty(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// object reads a mapping with a fixed set of keys. Unknown keys are reported
// (with the closest known key), known ones are handed to fn in file order,
// and positions are recorded under path. Required keys must be present and
// not empty; a missing one is reported at missingAt (the key that names the
// object).
func (d *decoder) object(v value, path string, missingAt Position, known, required []string, fn func(e entry)) bool {
	entries, ok := d.mapping(v)
	if !ok {
		return false
	}
	present := map[string]bool{}
	for _, e := range entries {
		if !contains(known, e.key) {
			d.errorf(e.keyPos, "unknown key %q%s%s", e.key, in(v.desc), suggest(e.key, known))
			continue
		}
		present[e.key] = !isEmpty(e.v.node)
		if !present[e.key] && contains(required, e.key) {
			d.errorf(e.v.pos, "%s is empty", e.v.desc)
		}
		d.keyPos[at(path, e.key)] = e.keyPos
		d.valPos[at(path, e.key)] = e.v.pos
		fn(e)
	}
	for _, r := range required {
		if _, seen := present[r]; !seen {
			d.errorf(missingAt, "missing required key %q%s", r, in(v.desc))
		}
	}
	return true
}

func isEmpty(n ast.Node) bool {
	switch v := n.(type) {
	case nil:
		return true
	case *ast.StringNode:
		return v.Value == ""
	case *ast.LiteralNode:
		return strings.TrimSpace(v.Value.Value) == ""
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// items returns the elements of a list; null is an empty list.
func (d *decoder) items(v value) ([]value, bool) {
	if v.node == nil {
		return nil, true
	}
	s, ok := v.node.(*ast.SequenceNode)
	if !ok {
		d.errorf(v.pos, "%s must be a list, not %s", v.desc, describe(v.node))
		return nil, false
	}
	out := make([]value, len(s.Values))
	for i, it := range s.Values {
		out[i] = value{node: d.resolve(it), pos: nodePos(it), desc: fmt.Sprintf("item %d of %s", i+1, v.desc)}
	}
	return out, true
}

// str reads a scalar as text. Numbers and booleans are taken as written,
// so that `PORT: 8080` or a label named `2024` need no quotes.
func (d *decoder) str(v value) string {
	switch n := v.node.(type) {
	case nil:
		return ""
	case *ast.StringNode:
		return n.Value
	case *ast.LiteralNode:
		return n.Value.Value
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return n.GetToken().Value
	}
	d.errorf(v.pos, "%s must be a string, not %s", v.desc, describe(v.node))
	return ""
}

// integer reads a whole number; ok is false when absent or wrong.
func (d *decoder) integer(v value) (int, bool) {
	n, isInt := v.node.(*ast.IntegerNode)
	if !isInt {
		d.errorf(v.pos, "%s must be an integer, not %s", v.desc, describe(v.node))
		return 0, false
	}
	switch x := n.Value.(type) {
	case int64:
		return int(x), true
	case uint64:
		if x <= uint64(^uint(0)>>1) {
			return int(x), true
		}
	}
	d.errorf(v.pos, "%s is too large", v.desc)
	return 0, false
}

// number reads an integer or a decimal; ok is false when absent or wrong.
func (d *decoder) number(v value) (float64, bool) {
	switch n := v.node.(type) {
	case *ast.FloatNode:
		return n.Value, true
	case *ast.IntegerNode:
		switch x := n.Value.(type) {
		case int64:
			return float64(x), true
		case uint64:
			return float64(x), true
		}
	}
	d.errorf(v.pos, "%s must be a number, not %s", v.desc, describe(v.node))
	return 0, false
}

func (d *decoder) boolean(v value) bool {
	b, ok := v.node.(*ast.BoolNode)
	if !ok {
		d.errorf(v.pos, "%s must be true or false, not %s", v.desc, describe(v.node))
		return false
	}
	return b.Value
}

// duration reads a positive Go duration string ("90s", "10m", "1h30m").
func (d *decoder) duration(v value) time.Duration {
	s, ok := v.node.(*ast.StringNode)
	if !ok {
		d.errorf(v.pos, "%s must be a duration such as \"90s\" or \"10m\", not %s", v.desc, describe(v.node))
		return 0
	}
	dur, err := time.ParseDuration(s.Value)
	if err != nil {
		d.errorf(v.pos, "invalid duration %q for %s: use a Go duration such as \"90s\", \"10m\" or \"1h30m\"", s.Value, v.desc)
		return 0
	}
	if dur <= 0 {
		d.errorf(v.pos, "%s must be positive, not %q", v.desc, s.Value)
		return 0
	}
	return dur
}

// suggest returns ` (did you mean "x"?)` for the candidate closest to s, or
// "" when none is close enough to be a typo.
func suggest(s string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		dist := editDistance(strings.ToLower(s), strings.ToLower(c))
		limit := 2
		if len(s) <= 4 && len(c) <= 4 {
			limit = 1 // two edits turn any short word into another
		}
		if dist <= limit && dist < bestDist {
			best, bestDist = c, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the optimal string alignment distance: Levenshtein plus
// adjacent transpositions, the commonest typo ("agnet").
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
