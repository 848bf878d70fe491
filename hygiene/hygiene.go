// Package hygiene decides whether a change may be pushed: paths the
// workflow allows and denies, a size limit, no binary files, and no text that
// looks like a secret. It works on what git reports about a diff; the caller
// gathers that. A violation is a finding with a reason, never a silent drop.
package hygiene

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Finding kinds.
const (
	KindPath   = "path"
	KindSize   = "size"
	KindBinary = "binary"
	KindSecret = "secret"
)

// Rules are the workflow's hygiene settings.
type Rules struct {
	// Allow: if not empty, every changed path must match one of these.
	// Deny: no changed path may match any of these. See Match for the syntax.
	Allow, Deny []string
	// MaxDiffLines bounds added plus deleted lines; 0 means no limit.
	MaxDiffLines int
}

// Change is one changed file of a diff (git diff --numstat).
type Change struct {
	Path           string
	Binary         bool
	Added, Deleted int
}

// Added is one added line of a commit in the range being pushed.
type Added struct {
	Commit, Path string
	Line         int
	Text         string
}

// Finding is one reason the change may not be pushed.
type Finding struct {
	Kind   string
	Path   string
	Reason string
}

// Key identifies the finding across attempts.
func (f Finding) Key() string { return "hygiene:" + f.Kind + ":" + f.Path }

// Check applies rules to the net diff and scans every added line (of every
// commit to be pushed, since history is pushed too) for secrets.
func Check(r Rules, changes []Change, added []Added) []Finding {
	var out []Finding
	total := 0
	for _, c := range changes {
		total += c.Added + c.Deleted
		if len(r.Allow) > 0 && !MatchAny(r.Allow, c.Path) {
			out = append(out, Finding{KindPath, c.Path, fmt.Sprintf("`%s` is outside the allowed paths (%s)", c.Path, strings.Join(r.Allow, ", "))})
		} else if p, ok := firstMatch(r.Deny, c.Path); ok {
			out = append(out, Finding{KindPath, c.Path, fmt.Sprintf("`%s` matches the denied path `%s`", c.Path, p)})
		}
		if c.Binary {
			out = append(out, Finding{KindBinary, c.Path, fmt.Sprintf("`%s` is a binary file", c.Path)})
		}
	}
	if r.MaxDiffLines > 0 && total > r.MaxDiffLines {
		out = append(out, Finding{KindSize, "", fmt.Sprintf("the diff changes %d lines, over the limit of %d", total, r.MaxDiffLines)})
	}
	seen := map[string]bool{}
	for _, a := range added {
		name, ok := Secret(a.Text)
		if !ok || seen[a.Path] {
			continue
		}
		seen[a.Path] = true
		out = append(out, Finding{KindSecret, a.Path, fmt.Sprintf("`%s` line %d (commit %.10s) looks like a %s", a.Path, a.Line, a.Commit, name)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

var secretREs = []struct {
	name string
	re   *regexp.Regexp
}{
	{"private key", regexp.MustCompile(`-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----`)},
	{"AWS access key id", regexp.MustCompile(`\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`)},
	{"GitHub token", regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22,})\b`)},
	{"GitLab token", regexp.MustCompile(`\bglpat-[A-Za-z0-9_-]{20,}`)},
	{"Slack token", regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}`)},
	{"OpenAI API key", regexp.MustCompile(`\bsk-(?:proj-|svcacct-|ant-)?[A-Za-z0-9_-]{20,}`)},
}

// Secret reports whether line looks like it holds a secret, and which kind.
// The secret itself is never returned, so that reports cannot leak it.
func Secret(line string) (string, bool) {
	for _, s := range secretREs {
		if s.re.MatchString(line) {
			return s.name, true
		}
	}
	return "", false
}

// Match reports whether path matches glob. "*" and "?" stay within one path
// segment, "**" spans any number of them, and a glob without "/" matches the
// base name at any depth (as in .gitignore): "*.pem", "vendor/**",
// "docs/**/*.md".
func Match(glob, path string) bool {
	re, err := compile(glob)
	if err != nil {
		return false
	}
	if !strings.Contains(glob, "/") {
		if i := strings.LastIndexByte(path, '/'); i >= 0 {
			path = path[i+1:]
		}
	}
	return re.MatchString(path)
}

// Valid reports a glob Match cannot use.
func Valid(glob string) error {
	if strings.TrimSpace(glob) == "" {
		return fmt.Errorf("empty glob")
	}
	_, err := compile(glob)
	return err
}

// MatchAny reports whether path matches one of globs.
func MatchAny(globs []string, path string) bool {
	_, ok := firstMatch(globs, path)
	return ok
}

func firstMatch(globs []string, path string) (string, bool) {
	for _, g := range globs {
		if Match(g, path) {
			return g, true
		}
	}
	return "", false
}

func compile(glob string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(glob); i++ {
		c := glob[i]
		switch {
		case strings.HasPrefix(glob[i:], "**/"):
			b.WriteString("(?:.*/)?")
			i += 2
		case strings.HasPrefix(glob[i:], "**"):
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '[':
			j := strings.IndexByte(glob[i+1:], ']')
			if j < 0 {
				return nil, fmt.Errorf("glob %q: unclosed [", glob)
			}
			class := glob[i+1 : i+1+j]
			if class == "" {
				return nil, fmt.Errorf("glob %q: empty []", glob)
			}
			if class[0] == '!' {
				class = "^" + class[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += j + 1
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}
