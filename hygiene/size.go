package hygiene

import "fmt"

const smaller = "make the change smaller: leave generated, vendored and data files out of it"

// sizes applies the limits on the whole change: lines, files, bytes. A
// diff too large to read is over the byte limit whatever it holds.
func (c *checker) sizes(in Input) {
	if in.Unread != "" {
		c.add(Finding{KindBytes, "", "the change is too large to read: " + in.Unread, smaller})
		return
	}
	lines, bytes := 0, 0
	for _, ch := range in.Files {
		lines += ch.Added + ch.Deleted
		bytes += ch.Bytes
	}
	if r := c.r; r.MaxDiffLines > 0 && lines > r.MaxDiffLines {
		c.add(Finding{KindSize, "", fmt.Sprintf("the diff changes %d lines, over the limit of %d", lines, r.MaxDiffLines), smaller})
	}
	if r := c.r; r.MaxFiles > 0 && len(in.Files) > r.MaxFiles {
		c.add(Finding{KindFiles, "", fmt.Sprintf("the change touches %d files, over the limit of %d", len(in.Files), r.MaxFiles), smaller})
	}
	if r := c.r; r.MaxDiffBytes > 0 && bytes > r.MaxDiffBytes {
		c.add(Finding{KindBytes, "", fmt.Sprintf("the change adds %s, over the limit of %s", sizes(bytes, r.MaxDiffBytes)...), smaller})
	}
}

// fileBytesFinding says that one file takes more than max bytes, and when
// one line is most of it, that line.
func fileBytesFinding(ch Change, max int) Finding {
	line := ""
	if ch.LongestLine > max/2 {
		line = fmt.Sprintf(" (one line of %s)", Size(ch.LongestLine))
	}
	s := sizes(ch.Bytes, max)
	return Finding{KindBytes, ch.Path, fmt.Sprintf("`%s` adds %s%s, over the limit of %s for one file", ch.Path, s[0], line, s[1]), smaller}
}

// sizes writes n and its limit in units that tell them apart.
func sizes(n, max int) []any {
	a, b := Size(n), Size(max)
	if a == b {
		a, b = fmt.Sprintf("%d bytes", n), fmt.Sprintf("%d bytes", max)
	}
	return []any{a, b}
}

// Size writes n bytes for people: "512 bytes", "20.0 MB" (powers of 1000,
// as the workflow's sizes read).
func Size(n int) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f KB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d bytes", n)
}
