package notify

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agentorg/agentorg/eventfmt"
)

// cutMark ends text cut to fit.
const cutMark = "… (cut)"

// cut shortens s to at most n runes, ending it with "… (cut)" when cut.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	m := utf8.RuneCountInString(cutMark)
	if n <= m {
		return string([]rune(s)[:n])
	}
	return string([]rune(s)[:n-m]) + cutMark
}

// runes counts s's runes.
func runes(s string) int { return utf8.RuneCountInString(s) }

// fit cuts a notice to the limits: each part to its own, then the text,
// then the fields from the last, until the whole fits MaxTotal.
func fit(n *Notice) {
	n.Title = cut(n.Title, MaxTitle)
	n.Text = cut(n.Text, MaxText)
	n.Status = cut(n.Status, MaxFieldValue)
	if len(n.Fields) > MaxFields {
		n.Fields = n.Fields[:MaxFields]
		n.Fields[MaxFields-1] = Field{Name: "More", Value: "(cut): more fields than a notice holds"}
	}
	for i := range n.Fields {
		f := &n.Fields[i]
		f.Name = cut(f.Name, MaxFieldName)
		if f.Name == "" {
			f.Name = "-"
		}
		f.Value = cut(f.Value, MaxFieldValue)
		if f.Value == "" {
			f.Value = "-"
		}
	}
	over := total(*n) - MaxTotal
	if over <= 0 {
		return
	}
	// The text gives way first, down to a few lines.
	if keep := max(runes(n.Text)-over, 200); keep < runes(n.Text) {
		over -= runes(n.Text) - keep
		n.Text = cut(n.Text, keep)
	}
	for i := len(n.Fields) - 1; i >= 0 && over > 0; i-- {
		f := &n.Fields[i]
		keep := max(runes(f.Value)-over, 40)
		if keep < runes(f.Value) {
			over -= runes(f.Value) - keep
			f.Value = cut(f.Value, keep)
		}
	}
	for i := len(n.Fields) - 1; i >= 0 && over > 0; i-- {
		f := &n.Fields[i]
		if keep := max(runes(f.Name)-over, 40); keep < runes(f.Name) {
			over -= runes(f.Name) - keep
			f.Name = cut(f.Name, keep)
		}
	}
	// Then fields go, from the last, and one says so.
	if over > 0 && len(n.Fields) > 0 {
		more := Field{Name: "More", Value: "(cut)"}
		over += runes(more.Name) + runes(more.Value)
		for over > 0 && len(n.Fields) > 0 {
			last := n.Fields[len(n.Fields)-1]
			over -= runes(last.Name) + runes(last.Value)
			n.Fields = n.Fields[:len(n.Fields)-1]
		}
		n.Fields = append(n.Fields, more)
	}
	if over > 0 {
		n.Text = cut(n.Text, max(runes(n.Text)-over, 0))
	}
}

// total is what counts against MaxTotal.
func total(n Notice) int {
	k := runes(n.Title) + runes(n.Text) + runes(n.Status)
	for _, f := range n.Fields {
		k += runes(f.Name) + runes(f.Value)
	}
	return k
}

// oneLine keeps s on one line, at most n runes.
func oneLine(s string, n int) string {
	return cut(strings.Join(strings.Fields(eventfmt.OneLine(s)), " "), n)
}

// firstLine is s's first non-blank line.
func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// plural: "1 file", "3 files".
func plural(k int, what string) string {
	if k == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", k, what)
}

func parseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339, s) }

var summaryHeadingRE = regexp.MustCompile(`(?i)^#{1,6}\s*(summary|overview|goal|what|approach|plan)\b`)

// summary is a plan's summary: the section under a "Summary"-like heading,
// else its first paragraph (the lines before the first blank line or
// heading), without the acceptance criteria.
func summary(plan string) string {
	lines := strings.Split(strings.ReplaceAll(plan, "\r\n", "\n"), "\n")
	for i, l := range lines {
		if summaryHeadingRE.MatchString(strings.TrimSpace(l)) {
			var out []string
			for _, m := range lines[i+1:] {
				if strings.HasPrefix(strings.TrimSpace(m), "#") {
					break
				}
				out = append(out, m)
			}
			if s := strings.TrimSpace(strings.Join(out, "\n")); s != "" {
				return s
			}
		}
	}
	var out []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if strings.EqualFold(strings.Trim(t, "#*_: "), "acceptance criteria") {
			break
		}
		if strings.HasPrefix(t, "#") {
			if len(out) > 0 {
				break
			}
			continue
		}
		if t == "" {
			if len(out) > 0 {
				break
			}
			continue
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// PlainText renders a notice as plain text, for Slack-compatible webhooks
// and the demo's channel printout: the title, the status, the text, the
// fields, the links, and the mentions as @name.
func (n Notice) PlainText() string {
	var b strings.Builder
	b.WriteString(n.Title)
	if n.URL != "" {
		b.WriteString("\n" + n.URL)
	}
	if n.Status != "" {
		b.WriteString("\nStatus: " + n.Status)
	}
	if n.Text != "" {
		b.WriteString("\n\n" + n.Text)
	}
	if len(n.Fields) > 0 {
		b.WriteString("\n")
		for _, f := range n.Fields {
			if strings.Contains(f.Value, "\n") {
				b.WriteString("\n" + f.Name + ":\n  " + strings.ReplaceAll(f.Value, "\n", "\n  "))
			} else {
				b.WriteString("\n" + f.Name + ": " + f.Value)
			}
		}
	}
	if len(n.Links) > 0 {
		b.WriteString("\n")
		for _, l := range n.Links {
			b.WriteString("\n" + l.Label + ": " + l.URL)
		}
	}
	if len(n.Mentions) > 0 {
		at := make([]string, len(n.Mentions))
		for i, m := range n.Mentions {
			at[i] = "@" + m
		}
		b.WriteString("\n\n" + strings.Join(at, " "))
	}
	if n.Ask != nil {
		b.WriteString("\n(decision open at gate " + n.Ask.Gate + ")")
	}
	return b.String() + "\n"
}
