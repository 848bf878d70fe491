// Package intent is what an issue means to change: the files and packages
// its plan names (the PM's "## Intent" block) and, once a developer worked
// on it, the files its change actually touches; and the issues it depends
// on ("depends on #N" in the issue or the plan). Two issues whose intents
// overlap are not developed at once (docs/lifecycle.md, "Parallel work").
// Everything here is pure: parsing and comparing.
package intent

import (
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Intent is one issue's intent.
type Intent struct {
	// Files are repository paths ("calc/calc.go"), slash-separated.
	Files []string `json:"files,omitempty"`
	// Packages are directories the plan names as a whole ("calc"), for
	// a workflow that counts a package as an overlap.
	Packages []string `json:"packages,omitempty"`
	// DependsOn are the issues that must be merged first.
	DependsOn []int64 `json:"depends_on,omitempty"`
}

// Empty reports whether the intent names nothing to change.
func (in Intent) Empty() bool { return len(in.Files) == 0 && len(in.Packages) == 0 }

var (
	headingRE = regexp.MustCompile(`(?im)^#{1,6}\s*intent\s*$`)
	nextRE    = regexp.MustCompile(`(?m)^#{1,6}\s`)
	fieldRE   = regexp.MustCompile(`(?i)^\s*[-*]\s*(files?|packages?|depends on)\s*:\s*(.*)$`)
	dependRE  = regexp.MustCompile(`(?i)\bdepends\s+on\s*:?\s*((?:#\d+[\s,]*(?:and\s+)?)+)`)
	numberRE  = regexp.MustCompile(`#(\d+)`)
)

// Parse reads the plan's "## Intent" block:
//
//	## Intent
//	- files: calc.go, calc_test.go
//	- packages: calc
//	- depends on: #12, #14
//
// and every "depends on #N" in the issue's body or the plan. Paths are
// cleaned and made relative; anything that is not a plain repository path
// (absolute, or climbing out with ..) is left out.
func Parse(plan, issueBody string) Intent {
	var in Intent
	if loc := headingRE.FindStringIndex(plan); loc != nil {
		block := plan[loc[1]:]
		if next := nextRE.FindStringIndex(block); next != nil {
			block = block[:next[0]]
		}
		for _, line := range strings.Split(block, "\n") {
			m := fieldRE.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			switch strings.ToLower(m[1]) {
			case "file", "files":
				in.Files = append(in.Files, paths(m[2])...)
			case "package", "packages":
				in.Packages = append(in.Packages, paths(m[2])...)
			}
		}
	}
	for _, text := range []string{issueBody, plan} {
		for _, m := range dependRE.FindAllStringSubmatch(text, -1) {
			for _, n := range numberRE.FindAllStringSubmatch(m[1], -1) {
				if v, err := strconv.ParseInt(n[1], 10, 64); err == nil && v > 0 {
					in.DependsOn = append(in.DependsOn, v)
				}
			}
		}
	}
	return in.normal()
}

// paths splits a comma- or space-separated list of paths, backticks and
// trailing punctuation taken off.
func paths(list string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		f = strings.TrimRight(strings.Trim(f, "`'\"()"), ".;:")
		if p, ok := Clean(f); ok {
			out = append(out, p)
		}
	}
	return out
}

// Clean makes p a repository path: slash-separated, relative, with no
// "." or ".." segments; ok is false for anything else ("none", "/etc",
// "../x").
func Clean(p string) (string, bool) {
	p = strings.TrimPrefix(strings.TrimSpace(p), "./")
	if p == "" || strings.EqualFold(p, "none") || strings.HasPrefix(p, "/") {
		return "", false
	}
	c := path.Clean(p)
	if c == "." || c == ".." || strings.HasPrefix(c, "../") {
		return "", false
	}
	return c, true
}

// With returns in with the files a change actually touches added: what
// the developer did updates what the plan predicted.
func (in Intent) With(changed []string) Intent {
	out := in
	out.Files = slices.Clone(in.Files)
	for _, f := range changed {
		if p, ok := Clean(f); ok {
			out.Files = append(out.Files, p)
		}
	}
	return out.normal()
}

func (in Intent) normal() Intent {
	slices.Sort(in.Files)
	in.Files = slices.Compact(in.Files)
	slices.Sort(in.Packages)
	in.Packages = slices.Compact(in.Packages)
	slices.Sort(in.DependsOn)
	in.DependsOn = slices.Compact(in.DependsOn)
	return in
}

// Overlap lists what a and b would both change: the files they share and,
// with byPackage, the packages (directories) they share, a file counting
// for its directory. Sorted, each once.
func Overlap(a, b Intent, byPackage bool) []string {
	var out []string
	for _, f := range a.Files {
		if slices.Contains(b.Files, f) {
			out = append(out, f)
		}
	}
	if byPackage {
		pa, pb := a.dirs(), b.dirs()
		for _, p := range pa {
			if slices.Contains(pb, p) {
				out = append(out, p+"/")
			}
		}
	} else {
		// A package the plan names as a whole holds the other's files in it.
		for _, p := range a.Packages {
			out = append(out, within(b.Files, p)...)
		}
		for _, p := range b.Packages {
			out = append(out, within(a.Files, p)...)
		}
		for _, p := range a.Packages {
			if slices.Contains(b.Packages, p) {
				out = append(out, p+"/")
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// dirs are the packages an intent names, and the directories of its files.
func (in Intent) dirs() []string {
	out := slices.Clone(in.Packages)
	for _, f := range in.Files {
		out = append(out, path.Dir(f))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func within(files []string, dir string) []string {
	var out []string
	for _, f := range files {
		if dir == "." || strings.HasPrefix(f, dir+"/") {
			out = append(out, f)
		}
	}
	return out
}
