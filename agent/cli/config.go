package cli

import "time"

// Config says how to run a coding CLI. The adapters whose tool needs
// nothing more (codex, gemini, opencode, aider) take it as their own Config.
type Config struct {
	Binary       string        // executable name or path; "" = the tool's own name
	Model        string        // the tool's model flag; "" = the tool's default
	Args         []string      // extra arguments the workflow adds
	Timeout      time.Duration // default when Task.Timeout is 0
	StallTimeout time.Duration // default when Task.StallTimeout is 0
}

// WithDefaults returns c with Binary defaulting to name and Args copied, so
// that the adapter never shares the caller's slice.
func (c Config) WithDefaults(name string) Config {
	if c.Binary == "" {
		c.Binary = name
	}
	c.Args = append([]string(nil), c.Args...)
	return c
}
