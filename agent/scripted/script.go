package scripted

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/agentorg/agentorg"
)

// Script is what the scripted agent plays: the first step whose Match fits
// the run, else Default.
type Script struct {
	Steps   []Step `yaml:"steps"`
	Default *Step  `yaml:"default"`
}

// Step is one scripted turn of the model.
type Step struct {
	Match   Match          `yaml:"match"`
	Actions []Action       `yaml:"actions"`
	Summary string         `yaml:"summary"`
	Error   string         `yaml:"error"` // end with is_error true
	Exit    int            `yaml:"exit"`  // exit status after printing the result
	Usage   agentorg.Usage `yaml:"usage"`
}

// Match selects a step. Zero fields match anything.
type Match struct {
	Role    string `yaml:"role"`
	Issue   int64  `yaml:"issue"`
	Attempt int    `yaml:"attempt"`
	// Title and Prompt are substrings of the prompt; Title is kept as a
	// separate name because scripts read better matching on the issue title.
	Title  string `yaml:"title"`
	Prompt string `yaml:"prompt"`
}

// Action is one edit or command; exactly one field is set.
type Action struct {
	Write  *FileText      `yaml:"write"`
	Append *FileText      `yaml:"append"`
	Edit   *Edit          `yaml:"edit"`
	Delete *string        `yaml:"delete"`
	Shell  *string        `yaml:"shell"`
	Sleep  *time.Duration `yaml:"sleep"`
}

// FileText is the argument of write and append.
type FileText struct {
	Path    string `yaml:"path"`
	Content string `yaml:"content"`
}

// Edit replaces the single occurrence of Old with New in Path.
type Edit struct {
	Path string `yaml:"path"`
	Old  string `yaml:"old"`
	New  string `yaml:"new"`
}

// run is what the agent knows about the current invocation.
type run struct {
	role    string
	issue   int64
	attempt int
	prompt  string
}

func (m Match) fits(r run) bool {
	return (m.Role == "" || m.Role == r.role) &&
		(m.Issue == 0 || m.Issue == r.issue) &&
		(m.Attempt == 0 || m.Attempt == r.attempt) &&
		strings.Contains(r.prompt, m.Title) &&
		strings.Contains(r.prompt, m.Prompt)
}

// pick returns the step to play and a name for it, or nil.
func (s *Script) pick(r run) (*Step, string) {
	for i := range s.Steps {
		if s.Steps[i].Match.fits(r) {
			return &s.Steps[i], fmt.Sprintf("step %d", i+1)
		}
	}
	if s.Default != nil {
		return s.Default, "default"
	}
	return nil, ""
}

// LoadScript reads a YAML or JSON script. Unknown keys are errors so that a
// typo in a test script fails loudly instead of matching everything.
func LoadScript(path string) (*Script, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseScript(data)
}

// ParseScript parses a YAML or JSON script and checks its actions.
func ParseScript(data []byte) (*Script, error) {
	var s Script
	if err := yaml.UnmarshalWithOptions(data, &s, yaml.DisallowUnknownField()); err != nil {
		return nil, err
	}
	check := func(name string, st *Step) error {
		for j, a := range st.Actions {
			if err := a.validate(); err != nil {
				return fmt.Errorf("%s, action %d: %w", name, j+1, err)
			}
		}
		return nil
	}
	for i := range s.Steps {
		if err := check(fmt.Sprintf("step %d", i+1), &s.Steps[i]); err != nil {
			return nil, err
		}
	}
	if s.Default != nil {
		if err := check("default", s.Default); err != nil {
			return nil, err
		}
	}
	return &s, nil
}

func (a Action) validate() error {
	n := 0
	for _, set := range []bool{a.Write != nil, a.Append != nil, a.Edit != nil, a.Delete != nil, a.Shell != nil, a.Sleep != nil} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return errors.New("empty action (want one of write, append, edit, delete, shell, sleep)")
	case n > 1:
		return errors.New("an action must have exactly one of write, append, edit, delete, shell, sleep")
	case a.Edit != nil && a.Edit.Old == "":
		return errors.New("edit: old is empty")
	}
	return nil
}
