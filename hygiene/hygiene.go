// Package hygiene decides whether a change may be pushed: paths the
// workflow allows and denies, size limits, no binary files, no symbolic link
// out of the repository, no submodule, no mode change, no text that looks
// like a secret (in files, commit messages or identities), and no commit
// made by anyone but agentorg. It works on what git reports about the
// commits to be pushed; the caller gathers that. A violation is a finding
// with a reason and a fix, never a silent drop.
package hygiene

import (
	"fmt"
	"sort"
	"strings"
)

// Finding kinds: a finding's key is "hygiene:<kind>:<path>".
const (
	KindPath      = "path"      // outside the allowed paths, or denied
	KindSize      = "size"      // too many lines changed
	KindBytes     = "bytes"     // too many bytes added, in all or to one file
	KindFiles     = "files"     // too many files changed
	KindBinary    = "binary"    // a binary file
	KindSecret    = "secret"    // a secret-looking line in a file
	KindSymlink   = "symlink"   // a symbolic link the workflow refuses
	KindSubmodule = "submodule" // a gitlink, or .gitmodules
	KindMode      = "mode"      // a file mode change, or a new executable
	KindMessage   = "message"   // secret-looking text in a commit's message or identity
	KindIdentity  = "identity"  // a commit agentorg did not make
)

// Symbolic link policies (Rules.Symlinks).
const (
	SymlinksInside = "inside" // links that stay inside the repository (the default)
	SymlinksNone   = "none"   // no symbolic link at all
	SymlinksAny    = "any"    // any link, wherever it points
)

// Mode policies (Rules.Modes).
const (
	ModesRefuse = "refuse" // a mode change is a finding (the default)
	ModesReport = "report" // a mode change is only shown in the report
)

// SymlinkPolicies and ModePolicies list the values a workflow may set.
var (
	SymlinkPolicies = []string{SymlinksInside, SymlinksNone, SymlinksAny}
	ModePolicies    = []string{ModesRefuse, ModesReport}
)

// Rules are the workflow's hygiene settings. A zero limit means no limit; an
// empty policy means its default.
type Rules struct {
	// Allow: if not empty, every changed path must match one of these.
	// Deny: no changed path may match any of these. See Match for the syntax.
	Allow, Deny []string
	// MaxDiffLines bounds added plus deleted lines.
	MaxDiffLines int
	// MaxDiffBytes bounds the bytes the change adds, MaxFileBytes those it
	// adds to any one file (one huge line included).
	MaxDiffBytes, MaxFileBytes int
	// MaxFiles bounds the files the change adds, changes or deletes.
	MaxFiles int
	// Symlinks is one of SymlinkPolicies; Modes one of ModePolicies.
	Symlinks, Modes string
	// Identity is who authors and commits every commit to be pushed;
	// zero means nobody is checked.
	Identity Person
}

// Change is one changed file of the net diff.
type Change struct {
	Path           string
	Binary         bool
	Added, Deleted int // lines
	// OldMode and NewMode are git's modes ("100644", "100755", "120000" a
	// symbolic link, "160000" a gitlink); "" on the side where the file
	// does not exist.
	OldMode, NewMode string
	// Link is a symbolic link's target (NewMode 120000): its blob.
	Link string
	// Bytes the added lines hold (newlines counted), and the longest of
	// them.
	Bytes, LongestLine int
}

// Added is one added line of a commit in the range being pushed.
type Added struct {
	Commit, Path string
	Line         int
	Text         string
}

// Person is a commit's author or committer.
type Person struct{ Name, Email string }

func (p Person) String() string { return p.Name + " <" + p.Email + ">" }

// Commit is one commit to be pushed: who made it and what it says.
type Commit struct {
	SHA               string
	Author, Committer Person
	Message           string
}

// Input is what git reports about the commits to be pushed.
type Input struct {
	Files []Change // the net diff
	Added []Added  // every line each commit adds
	// Net are the lines the net diff adds (what the pushed tree holds):
	// rules about the tree's content (conflict markers) read these, not
	// what a commit added and a later one removed.
	Net     []Added
	Commits []Commit // every commit
	// Unread, when set, says why the diff could not be read (it is too
	// large); Files and Added are then empty.
	Unread string
}

// Finding is one reason the change may not be pushed.
type Finding struct {
	Kind   string
	Path   string
	Reason string // what is wrong
	Fix    string // what the developer does about it
}

// Key identifies the finding across attempts.
func (f Finding) Key() string { return "hygiene:" + f.Kind + ":" + f.Path }

// Text is the finding in words: what is wrong, then what to do.
func (f Finding) Text() string {
	if f.Fix == "" {
		return f.Reason
	}
	return f.Reason + "; " + f.Fix
}

// Result is Check's verdict: Findings refuse the push; Notes are only
// shown (mode changes under ModesReport).
type Result struct {
	Findings, Notes []Finding
}

// maxPerKind bounds the findings of one kind: ten thousand files break one
// rule once, in a report a human can read.
const maxPerKind = 20

// Check applies r to the net diff, scans every added line (of every commit
// to be pushed, since history is pushed too) for secrets, and every commit
// for its identity and for secrets in its message.
func Check(r Rules, in Input) Result {
	c := newChecker(r)
	for _, ch := range in.Files {
		c.file(ch)
	}
	c.sizes(in)
	c.secrets(in.Added)
	c.markers(in.Net)
	c.commits(in.Commits)
	return Result{Findings: capKinds(c.findings), Notes: capKinds(c.notes)}
}

// checker gathers the findings of one Check, once per key.
type checker struct {
	r               Rules
	allow, deny     []glob
	seen            map[string]bool
	findings, notes []Finding
}

func newChecker(r Rules) *checker {
	return &checker{r: r, allow: compileAll(r.Allow), deny: compileAll(r.Deny), seen: map[string]bool{}}
}

func (c *checker) add(f Finding) {
	if !c.seen[f.Key()] {
		c.seen[f.Key()] = true
		c.findings = append(c.findings, f)
	}
}

// file applies the rules that look at one changed file.
func (c *checker) file(ch Change) {
	undo := undoText(ch)
	if len(c.allow) > 0 && !matchAny(c.allow, ch.Path) {
		c.add(Finding{KindPath, ch.Path, fmt.Sprintf("`%s` is outside the allowed paths (%s)", ch.Path, strings.Join(c.r.Allow, ", ")), undo})
	} else if g, ok := firstMatch(c.deny, ch.Path); ok {
		c.add(Finding{KindPath, ch.Path, fmt.Sprintf("`%s` matches the denied path `%s`", ch.Path, g.text), undo})
	}
	if ch.Binary {
		c.add(Finding{KindBinary, ch.Path, fmt.Sprintf("`%s` is a binary file", ch.Path), "take it out of the change: agentorg pushes no binary files"})
	}
	if f, ok := symlinkFinding(c.r.Symlinks, ch); ok {
		c.add(f)
	}
	if f, ok := submoduleFinding(ch); ok {
		c.add(f)
	}
	if f, ok := modeFinding(ch); ok {
		if c.r.Modes == ModesReport {
			f.Fix = ""
			c.notes = append(c.notes, f)
		} else {
			c.add(f)
		}
	}
	if c.r.MaxFileBytes > 0 && ch.Bytes > c.r.MaxFileBytes {
		c.add(fileBytesFinding(ch, c.r.MaxFileBytes))
	}
}

// undoText tells the developer how to take a file out of the change.
func undoText(ch Change) string {
	switch {
	case ch.OldMode == "" && ch.NewMode != "":
		return "do not add it"
	case ch.NewMode == "" && ch.OldMode != "":
		return "do not delete it"
	}
	return "leave it as it is on the target branch"
}

// secrets reports one secret-looking line per file, naming where it is.
func (c *checker) secrets(added []Added) {
	for _, a := range added {
		if c.seen["hygiene:"+KindSecret+":"+a.Path] {
			continue
		}
		if name, ok := Secret(a.Text); ok {
			// agentorg pushes one commit of what the work tree holds: once the
			// line (or the file) is gone from it, it is gone from the push.
			c.add(Finding{KindSecret, a.Path, fmt.Sprintf("`%s` line %d looks like a %s", a.Path, a.Line, name),
				"take it out of the file (or delete the file): a secret is never pushed; read it from the environment instead"})
		}
	}
}

// capKinds sorts findings by key and keeps at most maxPerKind of each kind,
// the rest counted in one more finding of that kind.
func capKinds(fs []Finding) []Finding {
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Key() < fs[j].Key() })
	var out []Finding
	for i := 0; i < len(fs); {
		j := i
		for j < len(fs) && fs[j].Kind == fs[i].Kind {
			j++
		}
		n := j - i
		if n > maxPerKind {
			out = append(out, fs[i:i+maxPerKind]...)
			more := n - maxPerKind
			out = append(out, Finding{Kind: fs[i].Kind, Path: fmt.Sprintf("(%d more)", more),
				Reason: fmt.Sprintf("%d more like the %d above", more, maxPerKind)})
		} else {
			out = append(out, fs[i:j]...)
		}
		i = j
	}
	return out
}
