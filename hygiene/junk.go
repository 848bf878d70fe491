package hygiene

// Junk is what an agent's tools leave behind that never belongs in a
// change: build output, logs, caches, editors' and operating systems'
// files. The engine leaves new junk files out of the commit it makes (and
// says so in the report), or, when the workflow asks, lets them in for the
// path rules to refuse.
var junkAlways = []string{
	"*.log", ".DS_Store", "._*", "Thumbs.db", "desktop.ini",
	"*.swp", "*.swo", "*~", "*.orig", "*.rej", "*.tmp",
	"**/.idea/**",
	// Never a project's own files, whatever its language.
	"**/node_modules/**", "**/__pycache__/**", "*.pyc",
}

// junkByMarker is junk per ecosystem, by a file at the repository's root
// that says the repository is of it: `target/` is Rust's build output, but
// may be a Go package's name.
var junkByMarker = []struct {
	marker string
	globs  []string
}{
	{"go.mod", []string{"*.test", "*.prof", "coverage.out", "cover.out"}},
	{"package.json", []string{"dist/**", "coverage/**", ".next/**", ".nuxt/**", ".turbo/**", "*.tsbuildinfo", ".eslintcache"}},
	{"Cargo.toml", []string{"target/**"}},
	{"pyproject.toml", pythonJunk},
	{"setup.py", pythonJunk},
	{"requirements.txt", pythonJunk},
	{"pom.xml", []string{"target/**"}},
	{"build.gradle", []string{".gradle/**", "build/**"}},
	{"build.gradle.kts", []string{".gradle/**", "build/**"}},
}

var pythonJunk = []string{"*.pyo", ".pytest_cache/**", ".mypy_cache/**", ".ruff_cache/**",
	".tox/**", ".venv/**", "venv/**", "*.egg-info/**", "build/**"}

// DefaultJunk is the junk of a repository whose root has the files has
// says it has: what every repository gets, and its ecosystems'.
func DefaultJunk(has func(name string) bool) []string {
	out := append([]string(nil), junkAlways...)
	seen := map[string]bool{}
	for _, g := range out {
		seen[g] = true
	}
	for _, e := range junkByMarker {
		if !has(e.marker) {
			continue
		}
		for _, g := range e.globs {
			if !seen[g] {
				seen[g] = true
				out = append(out, g)
			}
		}
	}
	return out
}
