package modelserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// Script is what the server plays. It is read fresh on every request, so a
// test may replace it between runs with SetScript.
type Script struct {
	Steps []Step `json:"steps"`
	// DefaultText answers a request whose newest segment matches no step,
	// and every request that declares no tools ("OK" when empty).
	DefaultText string `json:"default_text,omitempty"`
	// Usage is reported on every response, in each API's own fields.
	Usage Usage `json:"usage"`
}

// Step answers the prompt segments whose user text contains Match ("*"
// matches anything). Action k is played when k tool results came back in
// the segment; past the last action the server answers with DefaultText.
type Step struct {
	Match   string   `json:"match"`
	Actions []Action `json:"actions"`
}

// Action is one answer of the model. Set one of Text, Write, Edit, Read,
// Shell, Call, Fail or Stall; Delay may accompany any of them.
type Action struct {
	Text  string  `json:"text,omitempty"`  // final assistant text (ends the turn)
	Write *Write  `json:"write,omitempty"` // the CLI's own write tool
	Edit  *Edit   `json:"edit,omitempty"`  // the CLI's own edit tool
	Read  string  `json:"read,omitempty"`  // path, with the CLI's own read tool
	Shell string  `json:"shell,omitempty"` // command, with the CLI's own shell tool
	Call  *Call   `json:"call,omitempty"`  // verbatim call of any declared tool
	Delay float64 `json:"delay,omitempty"` // seconds to wait before answering
	Fail  *Fail   `json:"fail,omitempty"`  // answer with an API error
	// Stall sends the response headers (and for streaming requests the first
	// event), then hangs until the client disconnects or the server closes.
	Stall bool `json:"stall,omitempty"`
}

// Write creates or overwrites a file with Content.
type Write struct {
	Path    string `json:"path"`
	Content string `json:"content"`
}

// Edit replaces Old with New in a file.
type Edit struct {
	Path string `json:"path"`
	Old  string `json:"old"`
	New  string `json:"new"`
}

// Call is a verbatim call of a declared tool. Args is sent as JSON; RawArgs,
// when set, is sent as-is instead (it may be invalid JSON on purpose).
type Call struct {
	Name    string         `json:"name"`
	Args    map[string]any `json:"args,omitempty"`
	RawArgs string         `json:"raw_args,omitempty"`
}

// Fail answers with an API error in the API's documented shape.
type Fail struct {
	Status  int    `json:"status"` // HTTP status; 500 when zero
	Message string `json:"message"`
}

// Usage is what every response reports. InputTokens counts all prompt
// tokens, cached ones included (the OpenAI and Gemini meaning); the
// Anthropic API gets input_tokens = InputTokens - CachedInputTokens, as
// Anthropic counts cache reads apart.
type Usage struct {
	InputTokens       int64 `json:"input_tokens"`
	CachedInputTokens int64 `json:"cached_input_tokens"`
	OutputTokens      int64 `json:"output_tokens"`
}

// LoadScript reads a JSON script. Unknown keys are rejected, so that a typo
// does not silently turn an action into nothing.
func LoadScript(path string) (Script, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Script{}, fmt.Errorf("model script: %w", err)
	}
	s, err := ParseScript(data)
	if err != nil {
		return Script{}, fmt.Errorf("model script %s: %w", path, err)
	}
	return s, nil
}

// ParseScript decodes and checks a JSON script.
func ParseScript(data []byte) (Script, error) {
	var s Script
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Script{}, describeJSONError(data, err)
	}
	if dec.More() {
		return Script{}, fmt.Errorf("unexpected data after the script object")
	}
	if err := s.Validate(); err != nil {
		return Script{}, err
	}
	return s, nil
}

// Validate checks that every action sets exactly one kind.
func (s Script) Validate() error {
	for i, st := range s.Steps {
		if st.Match == "" {
			return fmt.Errorf("steps[%d]: match is empty (use \"*\" to match anything)", i)
		}
		for j, a := range st.Actions {
			if err := a.validate(); err != nil {
				return fmt.Errorf("steps[%d].actions[%d]: %w", i, j, err)
			}
		}
	}
	return nil
}

func (a Action) validate() error {
	n := 0
	for _, set := range []bool{a.Text != "", a.Write != nil, a.Edit != nil, a.Read != "", a.Shell != "", a.Call != nil, a.Fail != nil, a.Stall} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return fmt.Errorf("no action kind set (text, write, edit, read, shell, call, fail or stall)")
	case n > 1:
		return fmt.Errorf("more than one action kind set")
	case a.Delay < 0:
		return fmt.Errorf("delay %v is negative", a.Delay)
	case a.Write != nil && a.Write.Path == "":
		return fmt.Errorf("write: path is empty")
	case a.Edit != nil && a.Edit.Path == "":
		return fmt.Errorf("edit: path is empty")
	case a.Edit != nil && a.Edit.Old == "":
		return fmt.Errorf("edit: old is empty")
	case a.Call != nil && a.Call.Name == "":
		return fmt.Errorf("call: name is empty")
	case a.Call != nil && a.Call.Args != nil && a.Call.RawArgs != "":
		return fmt.Errorf("call: set args or raw_args, not both")
	case a.Fail != nil && a.Fail.Status != 0 && (a.Fail.Status < 400 || a.Fail.Status > 599):
		return fmt.Errorf("fail: status %d is not an HTTP error status", a.Fail.Status)
	}
	return nil
}

// describeJSONError adds the line and column to a decoding error.
func describeJSONError(data []byte, err error) error {
	var off int64 = -1
	switch e := err.(type) {
	case *json.SyntaxError:
		off = e.Offset
	case *json.UnmarshalTypeError:
		off = e.Offset
	}
	if off < 0 {
		return err
	}
	line, col := 1, 1
	for _, b := range data[:min(int(off), len(data))] {
		if b == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return fmt.Errorf("line %d, column %d: %w", line, col, err)
}
