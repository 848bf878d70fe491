// Package fenced reads the structured part of an agent's answer: the last
// ```json fenced block of its final message, decoded strictly, so that a
// malformed answer is an error that says what is wrong and the agent can be
// asked again.
package fenced

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
)

var fenceRE = regexp.MustCompile("(?s)```json[ \t]*\n(.*?)\n?```")

// Decode decodes the last ```json block of text into v, refusing unknown
// fields and anything after the first value.
func Decode(text string, v any) error {
	ms := fenceRE.FindAllStringSubmatch(text, -1)
	if len(ms) == 0 {
		return errors.New("no ```json fenced block in the answer")
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(ms[len(ms)-1][1])))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("the JSON block does not parse: %v", err)
	}
	if dec.More() {
		return errors.New("the JSON block holds more than one value")
	}
	return nil
}
