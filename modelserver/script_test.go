package modelserver

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestScriptJSONRoundTrip(t *testing.T) {
	in := Script{
		Steps: []Step{{Match: "A", Actions: []Action{
			{Write: &Write{Path: "a.txt", Content: "x\n"}, Delay: 0.5},
			{Edit: &Edit{Path: "a.txt", Old: "x", New: "y"}},
			{Read: "a.txt"},
			{Shell: "ls"},
			{Call: &Call{Name: "todo", Args: map[string]any{"items": []any{"a"}}}},
			{Call: &Call{Name: "todo", RawArgs: "{not json"}},
			{Fail: &Fail{Status: 429, Message: "slow down"}},
			{Stall: true},
			{Text: "done"},
		}}},
		DefaultText: "fine",
		Usage:       Usage{InputTokens: 10, CachedInputTokens: 2, OutputTokens: 3},
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"default_text":"fine"`, `"cached_input_tokens":2`, `"raw_args":"{not json"`,
		`"write":{"path":"a.txt","content":"x\n"}`, `"edit":{"path":"a.txt","old":"x","new":"y"}`,
		`"fail":{"status":429,"message":"slow down"}`, `"stall":true`, `"delay":0.5`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("marshalled script lacks %s:\n%s", key, b)
		}
	}
	out, err := ParseScript(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip changed the script:\n%+v\n%+v", in, out)
	}
}

func TestLoadScriptFromFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "script.json")
	src := `{"steps": [{"match": "*", "actions": [{"shell": "make test"}, {"text": "Tests pass."}]}],
	         "usage": {"input_tokens": 5, "output_tokens": 1}}`
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := LoadScript(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Steps) != 1 || s.Steps[0].Actions[0].Shell != "make test" || s.Steps[0].Actions[1].Text != "Tests pass." || s.Usage.InputTokens != 5 {
		t.Fatalf("loaded %+v", s)
	}
}

func TestLoadScriptErrorsSayWhatAndWhere(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"unknown key", `{"steps": [{"match": "x", "actions": [{"wirte": {"path": "a"}}]}]}`, `unknown field "wirte"`},
		{"unknown top key", `{"step": []}`, `unknown field "step"`},
		{"syntax", "{\"steps\": [\n  {\"match\": \"x\",}\n]}", "line 2"},
		{"wrong type", `{"steps": [{"match": 3}]}`, "line 1, column"},
		{"no kind", `{"steps": [{"match": "x", "actions": [{"delay": 1}]}]}`, "steps[0].actions[0]: no action kind set"},
		{"two kinds", `{"steps": [{"match": "x", "actions": [{"text": "a", "shell": "b"}]}]}`, "more than one action kind"},
		{"empty match", `{"steps": [{"actions": [{"text": "a"}]}]}`, `steps[0]: match is empty`},
		{"bad status", `{"steps": [{"match": "x", "actions": [{"fail": {"status": 200}}]}]}`, "not an HTTP error status"},
		{"args and raw", `{"steps": [{"match": "x", "actions": [{"call": {"name": "f", "args": {}, "raw_args": "x"}}]}]}`, "not both"},
		{"edit without old", `{"steps": [{"match": "x", "actions": [{"edit": {"path": "a"}}]}]}`, "edit: old is empty"},
		{"trailing", `{"steps": []} {}`, "after the script"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".json")
			if err := os.WriteFile(p, []byte(c.src), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadScript(p)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("LoadScript(%s) error %v, want one naming the file and saying %q", c.src, err, c.want)
			}
		})
	}
	if _, err := LoadScript(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Fatalf("missing file: %v", err)
	}
}
