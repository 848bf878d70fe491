package hygiene

import (
	"fmt"
	"regexp"
	"strings"
)

// Match reports whether path matches glob. "*" and "?" stay within one path
// segment, "**" spans any number of them, and a glob without "/" matches the
// base name at any depth (as in .gitignore): "*.pem", "vendor/**",
// "docs/**/*.md".
func Match(glob, path string) bool {
	g, err := compileGlob(glob)
	return err == nil && g.match(path)
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
	return matchAny(compileAll(globs), path)
}

// glob is a compiled glob: a change of ten thousand files is matched
// against each without compiling it ten thousand times.
type glob struct {
	text     string
	re       *regexp.Regexp
	baseName bool // no "/": matches the base name at any depth
}

func compileGlob(text string) (glob, error) {
	re, err := compile(text)
	return glob{text: text, re: re, baseName: !strings.Contains(text, "/")}, err
}

// compileAll compiles globs, leaving out those Valid refuses (the workflow
// reports them).
func compileAll(globs []string) []glob {
	var out []glob
	for _, text := range globs {
		if g, err := compileGlob(text); err == nil {
			out = append(out, g)
		}
	}
	return out
}

func (g glob) match(path string) bool {
	if g.baseName {
		if i := strings.LastIndexByte(path, '/'); i >= 0 {
			path = path[i+1:]
		}
	}
	return g.re.MatchString(path)
}

func matchAny(globs []glob, path string) bool {
	_, ok := firstMatch(globs, path)
	return ok
}

func firstMatch(globs []glob, path string) (glob, bool) {
	for _, g := range globs {
		if g.match(path) {
			return g, true
		}
	}
	return glob{}, false
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
