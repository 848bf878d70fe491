package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/sandbox"
	"github.com/agentorg/agentorg/workflow"
)

// Confinement is what agents, checks and the E2E command of this home run
// confined to (role.Deps.Confine), nil when the workflow turns
// confinement off. When the workflow requires it and the kernel cannot
// confine, the error says why and what to do: the engine does not start.
func (o *Org) Confinement() (*agentorg.Confinement, error) {
	st := ConfinementOf(o.Workflow)
	if err := st.Err(); err != nil || !st.Required {
		return nil, err
	}
	return Confinement(o.Home, o.Origin, PrivateDirs(os.Getenv)), nil
}

// ConfinementState is how a workflow's runs are confined on this machine.
type ConfinementState struct {
	Required    bool   // the workflow requires confinement
	ABI         int    // the Landlock ABI in use, when the kernel can confine
	Unavailable string // why the kernel cannot confine here; "" when it can
	wfPath      string
}

// ConfinementOf checks whether the kernel can confine wf's runs here.
func ConfinementOf(wf *workflow.Workflow) ConfinementState {
	st := ConfinementState{Required: wf.Confinement != workflow.ConfinementOff, wfPath: wf.Path}
	abi, err := sandbox.Available()
	st.ABI = abi
	if err != nil {
		st.Unavailable = err.Error()
	}
	return st
}

// Err is why the engine cannot start: the workflow requires confinement
// and the kernel cannot confine; nil otherwise.
func (s ConfinementState) Err() error {
	if !s.Required || s.Unavailable == "" {
		return nil
	}
	return fmt.Errorf("agents cannot be confined here: %s. %s", s.Unavailable, s.Fix())
}

// Fix says what to do when the kernel cannot confine.
func (s ConfinementState) Fix() string {
	return fmt.Sprintf("Run agentorg on Linux 6.2 or later with Landlock enabled, or set `confinement: off` in %s to run agents, checks and the E2E command unconfined", s.wfPath)
}

// String is the state in one line, for serve, agents and doctor.
func (s ConfinementState) String() string {
	switch {
	case !s.Required:
		return "confinement: off (the workflow says so): agents, checks and the E2E command can read and write anything agentorg can"
	case s.Unavailable != "":
		return "confinement: unavailable: " + s.Unavailable + ": the engine will not start"
	}
	return fmt.Sprintf("confinement: on (Landlock ABI %d, PID namespaces): agents, checks and the E2E command write only their own directories, cannot read agentorg's home, and leave nothing running", s.ABI)
}

// Confinement is the confinement of runs over home and origin: neither
// can be read (nor the private directories, PrivateDirs), except the mirror's
// objects, which worktrees borrow; the Go caches can be written, since
// developers and checks run `go test`. A run adds its own directory.
func Confinement(home, origin string, private []string) *agentorg.Confinement {
	c := &agentorg.Confinement{
		Hidden:   []string{home},
		Readable: []string{filepath.Join(home, "mirror.git", "objects")},
		Writable: goCaches(),
	}
	if path, ok := localPath(origin); ok {
		c.Hidden = append(c.Hidden, path)
	}
	c.Hidden = append(c.Hidden, private...)
	return c
}

// localPath is the directory of an origin on this machine: a path, or a
// file:// URL.
func localPath(origin string) (string, bool) {
	if rest, ok := strings.CutPrefix(origin, "file://"); ok {
		origin = rest
	} else if origin == "" || isRemoteURL(origin) {
		return "", false
	}
	abs, err := filepath.Abs(origin)
	return abs, err == nil
}

// PrivateDirs are what no run may read besides its home and origin: where
// the humans' agentorg credentials live ($XDG_CONFIG_HOME/agentorg,
// ~/.config/agentorg), the operator's ssh-agent socket, and where the
// homes made by default live (HomesDir: an agent of one repository reads
// no other's home either). (Connecting to a socket is refused only from
// Landlock ABI 9 on; hiding it costs nothing before.)
func PrivateDirs(getenv func(string) string) []string {
	var dirs []string
	if s := getenv("SSH_AUTH_SOCK"); filepath.IsAbs(s) {
		dirs = append(dirs, s)
	}
	if x := getenv("XDG_CONFIG_HOME"); filepath.IsAbs(x) {
		dirs = append(dirs, filepath.Join(x, "agentorg"))
	}
	if h := getenv("HOME"); filepath.IsAbs(h) {
		dirs = append(dirs, filepath.Join(h, ".config", "agentorg"))
	}
	if homes := HomesDir(getenv); homes != "" {
		dirs = append(dirs, homes)
	}
	return dirs
}

// goCaches are the Go build and module caches as `go` would find them
// from agentorg's environment, made when missing: a confined `go test`
// could not make them.
func goCaches() []string {
	var dirs []string
	if c := os.Getenv("GOCACHE"); c != "off" {
		if c == "" {
			if ucd, err := os.UserCacheDir(); err == nil {
				c = filepath.Join(ucd, "go-build")
			}
		}
		dirs = append(dirs, c)
	}
	mod := os.Getenv("GOMODCACHE")
	if mod == "" {
		gopath := strings.Split(os.Getenv("GOPATH"), string(filepath.ListSeparator))[0]
		if gopath == "" {
			if h, err := os.UserHomeDir(); err == nil {
				gopath = filepath.Join(h, "go")
			}
		}
		if gopath != "" {
			mod = filepath.Join(gopath, "pkg", "mod")
		}
	}
	dirs = append(dirs, mod)
	var out []string
	for _, d := range dirs {
		if filepath.IsAbs(d) && os.MkdirAll(d, 0o755) == nil {
			out = append(out, d)
		}
	}
	return out
}
