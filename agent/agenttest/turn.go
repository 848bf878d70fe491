package agenttest

import "github.com/agentorg/agentorg"

// Turn is what the tool does in one run, in terms every rig can play: a
// fake tool prints it in its tool's own format, a real CLI gets it from the
// scripted model server. A rig that cannot play a turn skips the test.
type Turn struct {
	Summary string // the tool's final answer
	Writes  []File // files the tool writes, in this order
	// Usage is what the run consumes. A fake reports it as its tool does
	// (a session's running total, say); a real CLI is charged the model
	// server's fixed usage per request instead.
	Usage agentorg.Usage
	// Error: the tool reports that it failed, with this message.
	Error string
	// Stall: the tool announces its session, then says nothing more and
	// never exits. Linger: it reports the whole turn, then does the same.
	Stall, Linger bool

	// What only a fake can do.
	Exit   int    // exit status, after the rest
	Stderr string // printed on stderr after the rest
	Junk   bool   // malformed and blank lines first, and "\r\n" line ends
	Huge   int    // a line of this many bytes first
	Record bool   // the tool's environment is recorded (Seen.Env)
}

// File is a file a tool writes: Path is relative to the task's directory,
// or absolute.
type File struct {
	Path, Content string
}

// fakeOnly says why a real CLI cannot play t, or "".
func (t Turn) fakeOnly() string {
	switch {
	case t.Exit != 0 || t.Stderr != "":
		return "a chosen exit status or stderr"
	case t.Junk || t.Huge > 0:
		return "malformed or huge output lines"
	case t.Record:
		return "telling its environment"
	case t.Linger:
		return "hanging after a finished turn"
	case t.Stall && (t.Summary != "" || t.Error != "" || len(t.Writes) > 0):
		return "a stall after some work"
	case t.Error != "" && (t.Summary != "" || len(t.Writes) > 0):
		return "an error after some work"
	}
	return ""
}
