package modelserver

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestUpdateFilePatchWidensToWholeLines(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.txt")
	if err := os.WriteFile(file, []byte("one\ntwo three\nfour\nfive"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		e         Edit
		wantHunks string
	}{
		{"inside a line", Edit{Path: "f.txt", Old: "three", New: "3"}, "-two three\n+two 3\n"},
		{"across lines", Edit{Path: "f.txt", Old: "three\nfo", New: "3\nFO"}, "-two three\n-four\n+two 3\n+FOur\n"},
		{"whole line with newline", Edit{Path: "f.txt", Old: "four\n", New: "4\n"}, "-four\n+4\n"},
		{"last line without newline", Edit{Path: "f.txt", Old: "fiv", New: "V"}, "-five\n+Ve\n"},
		{"not in the file", Edit{Path: "f.txt", Old: "absent", New: "new"}, "-absent\n+new\n"},
		{"missing file", Edit{Path: "nope.txt", Old: "a\nb\n", New: "c"}, "-a\n-b\n+c\n"},
	}
	for _, c := range cases {
		got := updateFilePatch(c.e, filepath.Join(dir, c.e.Path))
		want := "*** Begin Patch\n*** Update File: " + c.e.Path + "\n@@\n" + c.wantHunks + "*** End Patch\n"
		if got != want {
			t.Errorf("%s: patch\n%q\nwant\n%q", c.name, got, want)
		}
	}
}

func TestAddFilePatch(t *testing.T) {
	got := addFilePatch("d/x.txt", "a\n\nb\n")
	if want := "*** Begin Patch\n*** Add File: d/x.txt\n+a\n+\n+b\n*** End Patch\n"; got != want {
		t.Fatalf("patch %q, want %q", got, want)
	}
}

func TestExampleOfFollowsTheSchema(t *testing.T) {
	var schema any
	src := `{"type": "object", "properties": {
		"s": {"type": "STRING"}, "n": {"type": "number", "minimum": 5}, "b": {"type": "boolean"},
		"a": {"type": "array", "items": {"type": "string"}}, "e": {"enum": ["user", "model"]},
		"o": {"properties": {"x": {"type": ["integer", "null"]}}}}}`
	if err := json.Unmarshal([]byte(src), &schema); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(exampleOf(schema))
	if want := `{"a":[],"b":false,"e":"user","n":5,"o":{"x":1},"s":"scripted"}`; string(b) != want {
		t.Fatalf("example %s, want %s", b, want)
	}
}

func TestDetectCwdLastMentionWins(t *testing.T) {
	texts := []string{
		"<environment_context>\n  <cwd>/a</cwd>\n</environment_context>",
		"Primary working directory: /b\nPrimary working directory: /c",
		"nothing here",
	}
	if got := detectCwd(texts); got != "/c" {
		t.Fatalf("cwd %q, want /c", got)
	}
	if got := detectCwd(append(texts, "**Workspace Directories:**\n  - /d\n")); got != "/d" {
		t.Fatalf("cwd %q, want /d", got)
	}
	if got := detectCwd([]string{"  Working directory: /e\n"}); got != "/e" {
		t.Fatalf("cwd %q, want /e", got)
	}
	if got := detectCwd(nil); got != "" {
		t.Fatalf("cwd %q, want none", got)
	}
}

func TestWriteFallsBackToTheShell(t *testing.T) {
	p := &parsed{api: "responses", tools: []toolDecl{{name: "exec_command", params: map[string]bool{"cmd": true, "workdir": true}}}}
	c, err := mapWrite(Write{Path: "it's.txt", Content: "a'b\n"}, p, "/w")
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"cmd":"printf '%s' 'a'\\''b\n' > 'it'\\''s.txt'","workdir":"/w"}`; c.name != "exec_command" || c.args != want {
		t.Fatalf("call %s %s, want %s", c.name, c.args, want)
	}
}
