package workflow

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/agentorg/agentorg/hygiene"
)

// Hygiene limits a workflow leaves out.
const (
	DefaultMaxDiffLines = 5000
	DefaultMaxDiffBytes = 5_000_000
	DefaultMaxFileBytes = 1_000_000
	DefaultMaxFiles     = 500
)

// OwnGlob matches agentorg's own files: the workflow and its companions.
const OwnGlob = ".agentorg/**"

// CIConfigGlobs match the CI configuration of the forges and CI services
// agentorg knows: a change to it runs on their runners, with their
// secrets, before anyone reviews it.
var CIConfigGlobs = []string{
	".github/**", ".gitlab-ci.yml", ".gitlab/**", ".circleci/**", ".buildkite/**", "Jenkinsfile",
	"azure-pipelines.yml", ".azure-pipelines/**", ".travis.yml", "bitbucket-pipelines.yml",
	".drone.yml", ".woodpecker.yml", ".woodpecker/**", ".gitea/**", ".forgejo/**", "appveyor.yml", ".appveyor.yml",
}

// DefaultDeny are the paths no change may touch unless the workflow sets
// its own deny list: agentorg's own files, keys, and CI configuration.
var DefaultDeny = slices.Concat([]string{OwnGlob, "*.pem", "*.key", ".env"}, CIConfigGlobs)

// Rules are the settings as the hygiene package applies them; the caller
// adds the identity every commit must have.
func (h Hygiene) Rules() hygiene.Rules {
	return hygiene.Rules{Allow: h.Allow, Deny: h.Deny, MaxDiffLines: h.MaxDiffLines, MaxDiffBytes: h.MaxDiffBytes,
		MaxFileBytes: h.MaxFileBytes, MaxFiles: h.MaxFiles, Symlinks: h.Symlinks, Modes: h.Modes}
}

// hygieneDefaults fills in the hygiene settings a workflow leaves out. A
// deny list the workflow sets, even an empty one, is kept as it is.
func hygieneDefaults(h *Hygiene) {
	if h.Deny == nil {
		h.Deny = slices.Clone(DefaultDeny)
	}
	for _, d := range []struct {
		v   *int
		def int
	}{{&h.MaxDiffLines, DefaultMaxDiffLines}, {&h.MaxDiffBytes, DefaultMaxDiffBytes}, {&h.MaxFileBytes, DefaultMaxFileBytes}, {&h.MaxFiles, DefaultMaxFiles}} {
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if h.Symlinks == "" {
		h.Symlinks = hygiene.SymlinksInside
	}
	if h.Modes == "" {
		h.Modes = hygiene.ModesRefuse
	}
}

// sizeUnits are the units a size may be written in: powers of 1000, and of
// 1024 for the binary ones.
var sizeUnits = map[string]float64{
	"": 1, "b": 1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30,
}

// parseSize reads a number of bytes written with an optional unit, in any
// case, with or without a space: "5000000", "5MB", "1.5 MB", "512KiB".
func parseSize(s string) (int, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' && r != '-' && r != '+' })
	if i < 0 {
		i = len(t)
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	x, err := strconv.ParseFloat(num, 64)
	mult, known := sizeUnits[unit]
	if err != nil || !known || math.IsInf(x, 0) || math.IsNaN(x) {
		return 0, errors.New("not a size")
	}
	b := x * mult
	if b >= math.MaxInt64 {
		return 0, errors.New("too large")
	}
	return int(b), nil
}
