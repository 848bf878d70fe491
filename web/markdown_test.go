package web

import (
	"strings"
	"testing"
)

// A validation report's tables become tables; what an agent wrote stays
// text: no raw HTML, no script links.
func TestMarkdownRendersReportsSafely(t *testing.T) {
	report := "## Criteria\n\n| # | criterion | verdict |\n|---|---|---|\n| 1 | `go test ./...` passes | **met** |\n\n" +
		"<script>alert(1)</script>\n\n[click](javascript:alert(2))\n\n```\n<b>output</b>\n```\n"
	got := string(markdown(report))
	for _, want := range []string{"<table>", "<th>criterion</th>", "<code>go test ./...</code>", "<strong>met</strong>", "&lt;b&gt;output&lt;/b&gt;"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	for _, bad := range []string{"<script>", "javascript:"} {
		if strings.Contains(got, bad) {
			t.Errorf("%q made it through:\n%s", bad, got)
		}
	}
}
