package web

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Lines of each kind as the CLIs and agentorg write them.
var transcriptSamples = []struct{ line, class, label, note string }{
	// Codex exec --json.
	{`{"type":"thread.started","thread_id":"t-1"}`, "event", "session", ""},
	{`{"type":"item.completed","item":{"id":"item_0","type":"agent_message","text":"Done."}}`, "message", "message", ""},
	{`{"type":"item.started","item":{"id":"item_1","type":"command_execution","command":"bash -lc 'go test ./...'","status":"in_progress"}}`, "tool-call", "tool call", "bash -lc 'go test ./...'"},
	{`{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"go test","aggregated_output":"ok","exit_code":0,"status":"completed"}}`, "tool-result", "tool result", "exit 0"},
	{`{"type":"item.completed","item":{"id":"item_2","type":"file_change","changes":[{"path":"a.go","kind":"update"}],"status":"completed"}}`, "tool-call", "edit", "a.go"},
	{`{"type":"turn.completed","usage":{"input_tokens":1200,"cached_input_tokens":200,"output_tokens":34}}`, "usage", "usage", "1,200 in · 34 out"},
	{`{"type":"turn.failed","error":{"message":"quota"}}`, "error", "error", ""},
	// Claude Code stream-json.
	{`{"type":"system","subtype":"init","session_id":"s"}`, "event", "session", "init"},
	{`{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"Reading."}]}}`, "message", "message", ""},
	{`{"type":"assistant","message":{"content":[{"type":"tool_use","id":"tu","name":"Bash","input":{"command":"ls"}}]}}`, "tool-call", "tool call", "Bash"},
	{`{"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"tu","content":"a.go"}]}}`, "tool-result", "tool result", ""},
	{`{"type":"result","subtype":"success","is_error":false,"result":"ok","total_cost_usd":0.25,"usage":{"input_tokens":10,"cache_read_input_tokens":90,"output_tokens":5}}`, "usage", "result", "100 in · 5 out · $0.2500"},
	// Gemini CLI stream-json.
	{`{"type":"init","session_id":"g","model":"auto"}`, "event", "session", ""},
	{`{"type":"message","role":"user","content":"Do it."}`, "message", "prompt", ""},
	{`{"type":"message","role":"assistant","content":"Did it.","delta":true}`, "message", "message", ""},
	{`{"type":"tool_use","tool_name":"run_shell_command","tool_id":"x","parameters":{}}`, "tool-call", "tool call", "run_shell_command"},
	{`{"type":"tool_result","tool_id":"x","status":"success","output":"ok"}`, "tool-result", "tool result", "success"},
	{`{"type":"result","status":"success","stats":{"input_tokens":70,"output_tokens":7,"cached":0}}`, "usage", "result", "70 in · 7 out"},
	// OpenCode run --format json.
	{`{"type":"step_start","sessionID":"ses_1","part":{"type":"step-start"}}`, "event", "step", ""},
	{`{"type":"text","sessionID":"ses_1","part":{"type":"text","text":"Hi"}}`, "message", "message", ""},
	{`{"type":"tool_use","sessionID":"ses_1","part":{"type":"tool","tool":"bash","state":{"status":"completed","output":"ok"}}}`, "tool-call", "tool call", "bash completed"},
	{`{"type":"step_finish","sessionID":"ses_1","part":{"type":"step-finish","reason":"stop","cost":0.5,"tokens":{"input":10,"output":2,"reasoning":0,"cache":{"read":5,"write":0}}}}`, "usage", "usage", "15 in · 2 out · $0.5000"},
	// The command protocol.
	{`{"type":"message","text":"working"}`, "message", "message", ""},
	{`{"type":"usage","input_tokens":100,"output_tokens":10,"cost_usd":0.25}`, "usage", "usage", "100 in · 10 out · $0.2500"},
	{`{"type":"result","session_id":"s","summary":"Fixed.","is_error":false}`, "message", "result", ""},
	// Agentorg's own lines and plain logs.
	{`==> check test: go test ./...`, "check", "check", "test"},
	{`<== check test passed (1.2s)`, "check", "check passed", "test"},
	{`<== check vet failed: exit status 1 (3s)`, "check", "check failed", "vet"},
	{`== baseline: the checks on main at 0123456789`, "check", "agentorg", ""},
	{`[agentorg: 1048576 bytes cut here; a transcript keeps its first 16 MiB and its last bytes, up to 32 MiB in all (AGENTORG_TRANSCRIPT_MAX)]`, "cut", "cut", "1 MiB cut"},
	{`2026-11-25T15:44:32Z WARN codex_core: retrying`, "other", "log", ""},
	{`{"not json`, "other", "log", ""},
}

// Transcript lines are told apart: messages, tool calls and results,
// usage, agentorg's check lines, errors and plain log lines.
func TestTranscriptClassifiesLines(t *testing.T) {
	for _, c := range transcriptSamples {
		got := classify([]byte(c.line), false)
		if got.Class != c.class || got.Label != c.label || got.Note != c.note {
			t.Errorf("%s\n  got %s/%s/%q, want %s/%s/%q", c.line, got.Class, got.Label, got.Note, c.class, c.label, c.note)
		}
	}
	// Inside a check, its output is output whatever it looks like.
	if got := classify([]byte(`{"Action":"pass","Package":"x"}`), true); got.Class != "output" {
		t.Errorf("a JSON line in a check's output: %s", got.Class)
	}
	// A line cut short still says what it is by its type.
	if got := classify([]byte(`{"type":"turn.completed","usage":{"input_tok`), false); got.Class != "usage" {
		t.Errorf("a cut usage line: %s", got.Class)
	}
}

// WriteTestTranscript writes a transcript of about size bytes with every
// kind of line, a check's output crossing pages, a cut line in the
// middle, and "the end" on its last line.
func WriteTestTranscript(path string, size int64) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var n int64
	cut := false
	for i := 0; n < size; i++ {
		for _, c := range transcriptSamples {
			k, _ := fmt.Fprintf(w, "%s\n", c.line)
			n += int64(k)
		}
		k, _ := fmt.Fprintf(w, "==> check test: go test ./...\n")
		n += int64(k)
		for j := 0; j < 40; j++ {
			k, _ = fmt.Fprintf(w, "=== RUN   TestThing%d/%d <script>alert(1)</script>\n", i, j)
			n += int64(k)
		}
		k, _ = fmt.Fprintf(w, "\n<== check test passed (1.2s)\n")
		n += int64(k)
		if !cut && n > size/2 {
			cut = true
			k, _ = fmt.Fprintf(w, "\n[agentorg: 123456789 bytes cut here; a transcript keeps its first 16 MiB and its last bytes, up to 32 MiB in all (AGENTORG_TRANSCRIPT_MAX)]\n")
			n += int64(k)
		}
	}
	fmt.Fprintln(w, `{"type":"item.completed","item":{"id":"last","type":"agent_message","text":"the end"}}`)
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Pages partition the lines: each line shows on exactly one page, in
// order, and a check's output is known as such on a page that starts
// inside it.
func TestTranscriptPagesPartitionTheFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "run.log")
	if err := WriteTestTranscript(p, 3*transcriptPage+1000); err != nil {
		t.Fatal(err)
	}
	whole, _ := os.ReadFile(p)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	size := int64(len(whole))
	var got bytes.Buffer
	next := int64(0)
	for n := int64(0); n*transcriptPage < size; n++ {
		w, err := readTranscript(f, size, n)
		if err != nil {
			t.Fatal(err)
		}
		if w.from != next {
			t.Fatalf("page %d starts at %d, the previous ended at %d", n, w.from, next)
		}
		next = w.to
		for i, r := range w.rows {
			got.WriteString(r.Text + "\n")
			if i == 0 && n > 0 && strings.HasPrefix(r.Text, "=== RUN") && r.Class != "output" {
				t.Errorf("page %d starts inside a check's output, shown as %s", n, r.Class)
			}
		}
	}
	if next != size || got.String() != string(whole) {
		t.Fatalf("the pages hold %d bytes up to %d, the file %d", got.Len(), next, size)
	}
}

// BenchmarkTranscriptPage reads and renders one page of a 50 MB
// transcript: its cost does not grow with the file.
func BenchmarkTranscriptPage(b *testing.B) {
	p := filepath.Join(b.TempDir(), "run.log")
	if err := WriteTestTranscript(p, 50<<20); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	info, _ := f.Stat()
	pages, err := parsePages()
	if err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		n := int64(i*37) % (info.Size() / transcriptPage)
		w, err := readTranscript(f, info.Size(), n)
		if err != nil {
			b.Fatal(err)
		}
		out.Reset()
		v := &transcriptView{Bytes: info.Size(), Page: n + 1, Rows: w.rows, From: w.from, To: w.to}
		if err := pages["transcript"].ExecuteTemplate(&out, "layout.html", page{Title: "t", Now: time.Now(), Data: v}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(out.Len()), "html-bytes")
}
