package hygiene

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Git's modes for the entries of a tree.
const (
	modeExec    = "100755"
	modeLink    = "120000"
	modeGitlink = "160000"
)

// symlinkFinding applies the symbolic link policy to a new or changed link.
func symlinkFinding(policy string, ch Change) (Finding, bool) {
	if ch.NewMode != modeLink || policy == SymlinksAny {
		return Finding{}, false
	}
	if policy == SymlinksNone {
		return Finding{KindSymlink, ch.Path, fmt.Sprintf("`%s` is a symbolic link (to %s), and this workflow allows none (hygiene.symlinks: none)", ch.Path, shown(ch.Link)),
			"replace it with a regular file"}, true
	}
	why := linkEscapes(ch.Path, ch.Link)
	if why == "" {
		return Finding{}, false
	}
	return Finding{KindSymlink, ch.Path, fmt.Sprintf("`%s` is a symbolic link to %s, %s", ch.Path, shown(ch.Link), why),
		"replace it with a regular file, or with a relative link to a file inside the repository"}, true
}

// linkEscapes says how a link at path to target can reach outside the
// repository's tree, or "" when it cannot. The link's own directories are
// real directories (git cannot hold a path under a link), so a target's
// leading ".." are read against them; a ".." after a name is refused,
// since that name may itself be a link that leads elsewhere. A link
// through an older link that points out is not seen: that one is the
// target branch's.
func linkEscapes(path, target string) string {
	switch {
	case strings.ContainsAny(target, "\n\x00"):
		return "a target of several lines"
	case strings.HasPrefix(target, "/"):
		return "an absolute path, outside the repository"
	}
	up := strings.Count(path, "/") // directories the link is in
	named := ""
	for _, seg := range strings.Split(target, "/") {
		switch {
		case seg == "" || seg == ".":
		case seg == "..":
			if named != "" {
				return fmt.Sprintf("which goes back up out of `%s`: if that is a link too, this leaves the repository", named)
			}
			if up--; up < 0 {
				return "which climbs out of the repository"
			}
		case strings.EqualFold(seg, ".git"):
			return "into git's own files"
		default:
			named = seg
		}
	}
	return ""
}

// submoduleFinding refuses any gitlink and any change to .gitmodules:
// a submodule is never added, moved or removed by an agent.
func submoduleFinding(ch Change) (Finding, bool) {
	const fix = "agents never add, change or remove submodules"
	switch {
	case ch.NewMode == modeGitlink && ch.OldMode == "":
		return Finding{KindSubmodule, ch.Path, fmt.Sprintf("`%s` adds a submodule (a gitlink, mode 160000)", ch.Path),
			fmt.Sprintf("%s: take it out (`git rm --cached %s`)", fix, ch.Path)}, true
	case ch.NewMode == modeGitlink || ch.OldMode == modeGitlink:
		return Finding{KindSubmodule, ch.Path, fmt.Sprintf("`%s` changes or removes a submodule (a gitlink, mode 160000)", ch.Path),
			fix + ": leave it as it is on the target branch"}, true
	case ch.Path == ".gitmodules":
		return Finding{KindSubmodule, ch.Path, "`.gitmodules` (which declares submodules) is changed",
			fix + ": leave `.gitmodules` as it is on the target branch"}, true
	}
	return Finding{}, false
}

// modeFinding reports a new executable file, and a regular file whose
// executable bit changed. Type changes (a file becoming a link) show in git
// as a deletion and an addition, and are judged as those.
func modeFinding(ch Change) (Finding, bool) {
	regular := func(m string) bool { return strings.HasPrefix(m, "100") }
	switch {
	case ch.OldMode == "" && ch.NewMode == modeExec:
		return Finding{KindMode, ch.Path, fmt.Sprintf("`%s` is a new executable file (mode 100755)", ch.Path),
			fmt.Sprintf("make it a plain file (`chmod -x %s`): this workflow refuses mode changes (hygiene.modes)", ch.Path)}, true
	case regular(ch.OldMode) && regular(ch.NewMode) && ch.OldMode != ch.NewMode:
		what, undo := "executable", "-x"
		if ch.NewMode != modeExec {
			what, undo = "no longer executable", "+x"
		}
		return Finding{KindMode, ch.Path, fmt.Sprintf("`%s` changes mode %s → %s (%s)", ch.Path, ch.OldMode, ch.NewMode, what),
			fmt.Sprintf("restore its mode (`chmod %s %s`): this workflow refuses mode changes (hygiene.modes)", undo, ch.Path)}, true
	}
	return Finding{}, false
}

// shown quotes text that came from the change for a report: on one line,
// short, and never a secret.
func shown(s string) string {
	if name, ok := Secret(s); ok {
		return "a text that looks like a " + name
	}
	const max = 80
	cut, more := s, ""
	if len(s) > max {
		n := max
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		cut, more = s[:n], "…"
	}
	if strconv.CanBackquote(cut) {
		return "`" + cut + more + "`"
	}
	return "`" + strings.ReplaceAll(strconv.QuoteToGraphic(cut), "`", `\x60`) + more + "`"
}
