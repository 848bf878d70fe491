package hygiene

import (
	"regexp"
	"strings"
)

// secretFormat is one kind of secret: every match starts with lit, and re
// (anchored) says whether the text at an occurrence of lit is one. Finding
// the literal first keeps a scan linear in practice: a regexp that starts
// unanchored steps through every byte that could begin a match, which on
// a 20 MB line of "x" takes seconds for `xox...`.
type secretFormat struct {
	name       string
	lit        string
	re         *regexp.Regexp
	wordBefore bool // the match must not follow a letter, digit or _ (\b)
}

var secretFormats = []secretFormat{
	{"private key", "-----BEGIN ", regexp.MustCompile(`^-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----`), false},
	{"AWS access key id", "AKIA", regexp.MustCompile(`^AKIA[0-9A-Z]{16}\b`), true},
	{"AWS access key id", "ASIA", regexp.MustCompile(`^ASIA[0-9A-Z]{16}\b`), true},
	{"GitHub token", "gh", regexp.MustCompile(`^gh[pousr]_[A-Za-z0-9]{36}\b`), true},
	{"GitHub token", "github_pat_", regexp.MustCompile(`^github_pat_[A-Za-z0-9_]{22,}\b`), true},
	{"GitLab token", "glpat-", regexp.MustCompile(`^glpat-[A-Za-z0-9_-]{20,}`), true},
	{"Slack token", "xox", regexp.MustCompile(`^xox[abposr]-[A-Za-z0-9-]{10,}`), true},
	{"OpenAI API key", "sk-", regexp.MustCompile(`^sk-(?:proj-|svcacct-|ant-)?[A-Za-z0-9_-]{20,}`), true},
}

// secretWindow is how much text after a literal a format reads: more than
// any of them needs to decide.
const secretWindow = 1024

// Secret reports whether line looks like it holds a secret, and which kind.
// The secret itself is never returned, so that reports cannot leak it.
func Secret(line string) (string, bool) {
	for _, f := range secretFormats {
		if f.in(line) {
			return f.name, true
		}
	}
	return "", false
}

// in reports whether s holds the format somewhere.
func (f secretFormat) in(s string) bool {
	for from := 0; ; {
		i := strings.Index(s[from:], f.lit)
		if i < 0 {
			return false
		}
		at := from + i
		if (!f.wordBefore || at == 0 || !isWordByte(s[at-1])) && f.re.MatchString(s[at:min(len(s), at+secretWindow)]) {
			return true
		}
		from = at + 1
	}
}

// isWordByte is \b's idea of a word character: ASCII letters, digits, _.
func isWordByte(b byte) bool {
	return b == '_' || '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
}
