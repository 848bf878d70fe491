package fenced

import (
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	type answer struct {
		N int `json:"n"`
	}
	cases := []struct {
		text    string
		want    int
		wantErr string
	}{
		{"fine\n\n```json\n{\"n\": 1}\n```\n", 1, ""},
		{"first\n```json\n{\"n\": 1}\n```\nthen\n```json\n{\"n\": 2}\n```", 2, ""},
		{"no block", 0, "no ```json fenced block"},
		{"```json\n{\"n\": \"x\"}\n```", 0, "does not parse"},
		{"```json\n{\"n\": 1, \"m\": 2}\n```", 0, "does not parse"},
		{"```json\n{\"n\": 1} {\"n\": 2}\n```", 0, "more than one value"},
	}
	for _, c := range cases {
		var a answer
		err := Decode(c.text, &a)
		switch {
		case c.wantErr == "" && (err != nil || a.N != c.want):
			t.Errorf("Decode(%q) = %+v, %v; want n=%d", c.text, a, err, c.want)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("Decode(%q) error %v, want %q", c.text, err, c.wantErr)
		}
	}
}
