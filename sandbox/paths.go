package sandbox

import (
	"os"
	"path/filepath"
	"strings"
)

// Paths expands declarations of where a tool keeps its state against the
// tool's environment env ("K=V"): "~/x" is under HOME, "$VAR" and
// "$VAR/x" under the variable's value, other names are taken as they are;
// one whose variable is unset or empty, or that does not come to an
// absolute path, is skipped. A name ending in "/" is a directory, made
// when missing, since a confined tool could not make it; the others are
// files, which the tool must write in place (its directory stays
// read-only, so a write by rename from a file beside it is refused).
func Paths(decl, env []string) []string {
	var out []string
	for _, d := range decl {
		dir := strings.HasSuffix(d, "/")
		d = strings.TrimSuffix(d, "/")
		p := d
		if v, rest, ok := variable(d); ok {
			val := getenv(env, v)
			if val == "" {
				continue
			}
			p = filepath.Join(val, rest)
		}
		if !filepath.IsAbs(p) {
			continue
		}
		if dir {
			_ = os.MkdirAll(p, 0o755) // a failure shows as the tool's own
		}
		out = append(out, filepath.Clean(p))
	}
	return out
}

// variable splits "~/x" and "$VAR/x" into the variable and the rest.
func variable(d string) (name, rest string, ok bool) {
	switch {
	case d == "~" || strings.HasPrefix(d, "~/"):
		return "HOME", strings.TrimPrefix(strings.TrimPrefix(d, "~"), "/"), true
	case strings.HasPrefix(d, "$"):
		name, rest, _ = strings.Cut(d[1:], "/")
		return name, rest, true
	}
	return "", "", false
}

// getenv is key's value in env; the last entry wins, as for exec.
func getenv(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}
