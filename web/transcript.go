package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/agentorg/agentorg/role"
	"github.com/agentorg/agentorg/transcript"
	"github.com/agentorg/agentorg/transcript/capped"
)

// A run's transcript (role.TranscriptPath) can be hundreds of megabytes,
// so the viewer never reads it whole: page n covers the bytes
// [n*transcriptPage, (n+1)*transcriptPage) and shows the lines that start
// there, each read with one ReadAt of at most a page and a line. The raw
// file is served as it is, with ranges, at /runs/{id}/raw.
const (
	transcriptPage = 256 << 10 // bytes of the file one page covers
	transcriptLine = 64 << 10  // a longer line is shown cut (whole in the raw file)
	transcriptBack = 16 << 10  // how far back a page looks for a check it starts inside
	transcriptJoin = 8 << 10   // plain lines run together into one block up to this
)

// runIDPattern is what a run id looks like: a UUID (engine/worker.go), which is
// also all a path under <home>/runs may be built from.
var runIDPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// transcriptView is one page of a run's transcript.
// liveStream: none. A transcript page holds what a run wrote; reading
// hundreds of KB again on every event of the organization would only
// lose the reader's place.
func (*transcriptView) liveStream() string { return "" }

type transcriptView struct {
	Run   transcript.Run
	Known bool // the event log names the run
	Size  string
	Bytes int64
	// Page and Pages count from 1; From and To are the bytes shown.
	Page, Pages int64
	From, To    int64
	Range       string
	Rows        []tline
	Counts      []kindCount
	// Inside: the page lies inside one line longer than a page, shown on
	// the page it starts on.
	Inside                  bool
	First, Prev, Next, Last string // links; "" on the page itself
	Raw                     string
}

// tline is a line of the transcript (or plain lines run together) as
// the viewer tells it apart.
type tline struct {
	At    int64  // its first byte's offset in the file
	ID    string // its anchor
	Class string // message, tool-call, tool-result, usage, check, output, error, event, cut, other
	Label string // the class in words
	Note  string // what it is about: a tool's name, token counts, a check's name
	Text  string
	Cut   bool // the line goes on past what is shown
	Here  bool // the byte ?at= asked for is in it
}

type kindCount struct {
	Class, Label string
	N            int
}

// lineKinds are the classes in the order the page's legend lists them.
var lineKinds = []struct{ class, label string }{
	{"message", "messages"}, {"tool-call", "tool calls"}, {"tool-result", "tool results"}, {"usage", "usage lines"},
	{"check", "check lines"}, {"output", "check output"}, {"error", "errors"}, {"event", "other events"},
	{"cut", "cuts"}, {"other", "log lines"},
}

func (s *Server) transcriptPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	run, f, status, why := s.openTranscript(r.Context(), id)
	if f == nil {
		s.fail(w, r, status, why)
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	size := info.Size()
	pages := max(1, (size+transcriptPage-1)/transcriptPage)
	q := r.URL.Query()
	n, at := int64(0), int64(-1)
	switch {
	case q.Get("at") != "":
		at, err = strconv.ParseInt(q.Get("at"), 10, 64)
		if err != nil || at < 0 {
			s.fail(w, r, http.StatusBadRequest, fmt.Sprintf("at must be a byte offset into the transcript, not %q", q.Get("at")))
			return
		}
		if at >= size {
			s.fail(w, r, http.StatusNotFound, fmt.Sprintf("the transcript of run %s has %d bytes: there is no byte %d", id, size, at))
			return
		}
		n = at / transcriptPage
	case q.Get("page") == "last":
		n = pages - 1
	case q.Get("page") != "":
		p, err := strconv.ParseInt(q.Get("page"), 10, 64)
		if err != nil || p < 1 {
			s.fail(w, r, http.StatusBadRequest, fmt.Sprintf("page must be a page number from 1, not %q", q.Get("page")))
			return
		}
		if p > pages {
			s.fail(w, r, http.StatusNotFound, fmt.Sprintf("the transcript of run %s has %d pages: there is no page %d", id, pages, p))
			return
		}
		n = p - 1
	}
	win, err := readTranscript(f, size, n)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, fmt.Sprintf("reading the transcript of run %s: %v", id, err))
		return
	}
	v := &transcriptView{Run: run.Run, Known: run.known, Size: capped.Size(size), Bytes: size, Page: n + 1, Pages: pages,
		From: win.from, To: win.to, Rows: win.rows, Inside: win.inside, Raw: "/runs/" + id + "/raw"}
	if size > 0 {
		v.Range = fmt.Sprintf("bytes %s–%s of %s", groupDigits(win.from), groupDigits(max(win.from, win.to-1)), groupDigits(size))
	}
	base := "/runs/" + id + "?page="
	if n > 0 {
		v.First, v.Prev = base+"1", base+strconv.FormatInt(n, 10)
	}
	if n < pages-1 {
		v.Next, v.Last = base+strconv.FormatInt(n+2, 10), base+strconv.FormatInt(pages, 10)
	}
	counts := map[string]int{}
	for i := range v.Rows {
		row := &v.Rows[i]
		counts[row.Class]++
		row.ID = "b" + strconv.FormatInt(row.At, 10)
		if at >= row.At && (i == len(v.Rows)-1 || at < v.Rows[i+1].At) {
			row.Here, row.ID = true, "here"
		}
	}
	for _, k := range lineKinds {
		if counts[k.class] > 0 {
			v.Counts = append(v.Counts, kindCount{Class: k.class, Label: k.label, N: counts[k.class]})
		}
	}
	s.render(w, r, http.StatusOK, "transcript", "Run "+id[:8], v)
}

// transcriptRaw serves the transcript file as it is (with ranges).
func (s *Server) transcriptRaw(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	_, f, status, why := s.openTranscript(r.Context(), id)
	if f == nil {
		http.Error(w, why, status)
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", `inline; filename="`+id+`.log"`)
	http.ServeContent(w, r, id+".log", info.ModTime(), f)
}

type knownRun struct {
	transcript.Run
	known bool
}

// openTranscript opens run id's transcript, or says why there is none
// with the status to answer.
func (s *Server) openTranscript(ctx context.Context, id string) (knownRun, *os.File, int, string) {
	if !runIDPattern.MatchString(id) {
		return knownRun{}, nil, http.StatusNotFound, fmt.Sprintf("there is no run %q: a run id is a UUID such as 0b5e5c1e-8e0f-4a57-9d4e-2f1a3c5b7d9e (agentorg events --wide shows them)", id)
	}
	run := knownRun{Run: transcript.Run{ID: id, Path: role.TranscriptPath(s.cfg.Home, id)}}
	refs, err := s.cfg.Log.FindRuns(ctx, id, 1)
	if err != nil {
		return run, nil, http.StatusInternalServerError, err.Error()
	}
	if len(refs) == 1 && refs[0].ID == id {
		run.known = true
		if found, err := transcript.Find(ctx, s.cfg.Log, s.cfg.Home, id); err == nil {
			run.Run = found
		} else {
			run.Issue, run.Stage, run.At = refs[0].Issue, refs[0].Stage, refs[0].At
		}
	}
	f, err := os.Open(run.Path)
	switch {
	case errors.Is(err, os.ErrNotExist) && run.known:
		return run, nil, http.StatusNotFound, fmt.Sprintf("run %s (#%d, %s) has no transcript: it started no agent or check, or the file was removed (agentorg gc)", id, run.Issue, run.Stage)
	case errors.Is(err, os.ErrNotExist):
		return run, nil, http.StatusNotFound, fmt.Sprintf("there is no run %s: the event log names no such run and it has no transcript", id)
	case err != nil:
		return run, nil, http.StatusInternalServerError, err.Error()
	}
	return run, f, 0, ""
}

// tWindow is what one page shows.
type tWindow struct {
	from, to int64
	rows     []tline
	inside   bool
}

// readTranscript reads page n of a transcript of size bytes: the lines
// that start in [n*transcriptPage, (n+1)*transcriptPage), each shown up to
// transcriptLine bytes. It reads at most a page and a line, and a little
// before the page to know whether it starts inside a check's output.
func readTranscript(f io.ReaderAt, size, n int64) (tWindow, error) {
	lo := n * transcriptPage
	hi := min(lo+transcriptPage, size)
	w := tWindow{from: lo, to: lo}
	if lo >= size {
		return w, nil
	}
	from := max(lo-1, 0) // the byte before the page says whether a line starts at lo
	buf := make([]byte, min(size, hi+transcriptLine)-from)
	if _, err := f.ReadAt(buf, from); err != nil && err != io.EOF {
		return w, err
	}
	pos := 0
	if lo > 0 {
		j := bytes.IndexByte(buf, '\n')
		if j < 0 || from+int64(j)+1 >= hi {
			w.inside, w.to = true, hi
			return w, nil
		}
		pos = j + 1
	}
	w.from = from + int64(pos)
	inCheck, err := checkOpenBefore(f, w.from)
	if err != nil {
		return w, err
	}
	for from+int64(pos) < hi {
		rest := buf[pos:]
		line, next, cut := rest, len(rest), from+int64(len(buf)) < size
		if nl := bytes.IndexByte(rest, '\n'); nl >= 0 {
			line, next, cut = rest[:nl], nl+1, false
		}
		if len(line) > transcriptLine {
			line, cut = line[:transcriptLine], true
		}
		row := classify(line, inCheck)
		row.At, row.Cut = from+int64(pos), cut
		switch {
		case bytes.HasPrefix(line, []byte("==> check ")):
			inCheck = true
		case bytes.HasPrefix(line, []byte("<== check ")):
			inCheck = false
		}
		w.rows = appendRow(w.rows, row)
		pos += next
	}
	w.to = from + int64(pos)
	return w, nil
}

// appendRow adds row, running plain lines (log lines, a check's output)
// together into one block.
func appendRow(rows []tline, row tline) []tline {
	if k := len(rows) - 1; k >= 0 && (row.Class == "other" || row.Class == "output") && rows[k].Class == row.Class &&
		!rows[k].Cut && !row.Cut && len(rows[k].Text)+len(row.Text) < transcriptJoin {
		rows[k].Text += "\n" + row.Text
		return rows
	}
	return append(rows, row)
}

// checkOpenBefore reports whether the transcript is inside a check's
// output at offset at: a check began ("==> check") in the bytes before it
// and did not end ("<== check").
func checkOpenBefore(f io.ReaderAt, at int64) (bool, error) {
	if at == 0 {
		return false, nil
	}
	start := max(0, at-transcriptBack)
	buf := make([]byte, at-start)
	if _, err := f.ReadAt(buf, start); err != nil && err != io.EOF {
		return false, err
	}
	open := lastLineWith(buf, "==> check ", start == 0)
	closed := lastLineWith(buf, "<== check ", start == 0)
	return open > closed, nil
}

// lastLineWith is the index of the last line of b that starts with
// prefix (-1 for none); b's first byte starts a line when atStart.
func lastLineWith(b []byte, prefix string, atStart bool) int {
	i := bytes.LastIndex(b, []byte("\n"+prefix))
	if i >= 0 {
		return i + 1
	}
	if atStart && bytes.HasPrefix(b, []byte(prefix)) {
		return 0
	}
	return -1
}

// classify tells what a line is. Agentorg writes "==> check NAME: CMD",
// the check's output, "<== check NAME passed (1s)", "== " notes and the
// cut line of a capped transcript; the coding CLIs write JSON event lines
// (Codex `exec --json`, Claude Code stream-json, Gemini CLI stream-json,
// OpenCode `run --format json`, the command protocol), and log lines.
func classify(line []byte, inCheck bool) tline {
	text := strings.TrimRight(string(line), "\r")
	switch {
	case strings.HasPrefix(text, "[agentorg: ") && strings.Contains(text, " bytes cut here"):
		note := ""
		if f := strings.Fields(text); len(f) > 1 {
			if n, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				note = capped.Size(n) + " cut"
			}
		}
		return tline{Class: "cut", Label: "cut", Note: note, Text: text}
	case strings.HasPrefix(text, "==> check "):
		name, _, _ := strings.Cut(strings.TrimPrefix(text, "==> check "), ":")
		return tline{Class: "check", Label: "check", Note: name, Text: text}
	case strings.HasPrefix(text, "<== check "):
		rest := strings.TrimPrefix(text, "<== check ")
		name, outcome, _ := strings.Cut(rest, " ")
		label := "check passed"
		if !strings.HasPrefix(outcome, "passed") {
			label = "check failed"
		}
		return tline{Class: "check", Label: label, Note: name, Text: text}
	case strings.HasPrefix(text, "== "):
		return tline{Class: "check", Label: "agentorg", Text: text}
	case inCheck:
		return tline{Class: "output", Label: "output", Text: text}
	case strings.HasPrefix(text, "{"):
		return classifyEvent(line, text)
	}
	return tline{Class: "other", Label: "log", Text: text}
}

// cliEvent holds the fields of the CLIs' event lines the viewer reads.
type cliEvent struct {
	Type    string          `json:"type"`
	Subtype string          `json:"subtype"`
	Role    string          `json:"role"`    // gemini message
	Message json.RawMessage `json:"message"` // claude: {content}; codex, gemini error: text
	Item    *struct {       // codex item.*
		Type     string `json:"type"`
		Command  string `json:"command"`
		Status   string `json:"status"`
		ExitCode *int   `json:"exit_code"`
		Server   string `json:"server"`
		Tool     string `json:"tool"`
		Query    string `json:"query"`
		Changes  []struct {
			Path string `json:"path"`
		} `json:"changes"`
	} `json:"item"`
	Usage    json.RawMessage `json:"usage"` // codex turn.completed, claude result, command result
	Cost     float64         `json:"total_cost_usd"`
	IsError  bool            `json:"is_error"`
	ToolName string          `json:"tool_name"` // gemini tool_use
	Status   string          `json:"status"`    // gemini tool_result, result
	Stats    *cliTokens      `json:"stats"`     // gemini result
	Part     *struct {       // opencode
		Tool  string `json:"tool"`
		State struct {
			Status string `json:"status"`
		} `json:"state"`
		Tokens *struct {
			Input  int64 `json:"input"`
			Output int64 `json:"output"`
			Cache  struct {
				Read int64 `json:"read"`
			} `json:"cache"`
		} `json:"tokens"`
		Cost float64 `json:"cost"`
	} `json:"part"`
	cliTokens         // the command protocol's usage line
	CostUSD   float64 `json:"cost_usd"`
}

type cliTokens struct {
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
}

// eventType finds the type of a line too long to parse whole.
var eventType = regexp.MustCompile(`^\{\s*"type"\s*:\s*"([A-Za-z0-9_.\-]+)"`)

func classifyEvent(line []byte, text string) tline {
	var e cliEvent
	if err := json.Unmarshal(line, &e); err != nil {
		m := eventType.FindSubmatch(line)
		if m == nil {
			return tline{Class: "other", Label: "log", Text: text}
		}
		e = cliEvent{Type: string(m[1])}
	}
	row := tline{Class: "event", Label: e.Type, Text: text}
	set := func(class, label, note string) tline {
		row.Class, row.Label, row.Note = class, label, note
		return row
	}
	switch e.Type {
	case "":
		return set("other", "json", "")
	// Codex.
	case "thread.started":
		return set("event", "session", "")
	case "turn.started":
		return set("event", "turn", "")
	case "turn.completed":
		var u struct {
			cliTokens
			Cached int64 `json:"cached_input_tokens"`
		}
		_ = json.Unmarshal(e.Usage, &u)
		return set("usage", "usage", usageNote(u.InputTokens, u.OutputTokens, 0))
	case "turn.failed", "error":
		return set("error", "error", "")
	case "item.started", "item.updated", "item.completed":
		if e.Item == nil {
			return row
		}
		it := e.Item
		done := e.Type == "item.completed"
		switch it.Type {
		case "agent_message":
			return set("message", "message", "")
		case "reasoning":
			return set("message", "reasoning", "")
		case "command_execution":
			if done || it.Status == "declined" {
				note := it.Status
				if it.ExitCode != nil {
					note = fmt.Sprintf("exit %d", *it.ExitCode)
				}
				return set("tool-result", "tool result", note)
			}
			return set("tool-call", "tool call", clip(it.Command, 60))
		case "mcp_tool_call":
			if done {
				return set("tool-result", "tool result", it.Server+"."+it.Tool)
			}
			return set("tool-call", "tool call", it.Server+"."+it.Tool)
		case "file_change":
			var paths []string
			for _, c := range it.Changes {
				paths = append(paths, c.Path)
			}
			return set("tool-call", "edit", clip(strings.Join(paths, ", "), 60))
		case "web_search":
			return set("tool-call", "web search", clip(it.Query, 60))
		case "todo_list":
			return set("event", "plan", "")
		case "error":
			return set("error", "error", "")
		}
		return set("event", it.Type, "")
	// Claude Code.
	case "system":
		return set("event", "session", e.Subtype)
	case "assistant", "user":
		var m struct {
			Content []struct {
				Type string `json:"type"`
				Name string `json:"name"`
			} `json:"content"`
		}
		_ = json.Unmarshal(e.Message, &m)
		var tools []string
		results, thinking := 0, false
		for _, c := range m.Content {
			switch c.Type {
			case "tool_use":
				tools = append(tools, c.Name)
			case "tool_result":
				results++
			case "thinking":
				thinking = true
			}
		}
		switch {
		case len(tools) > 0:
			return set("tool-call", "tool call", strings.Join(tools, ", "))
		case results > 0:
			return set("tool-result", "tool result", "")
		case e.Type == "user":
			return set("message", "prompt", "")
		case thinking:
			return set("message", "thinking", "")
		}
		return set("message", "message", "")
	case "result":
		switch {
		case e.Stats != nil: // Gemini
			return set("usage", "result", usageNote(e.Stats.InputTokens, e.Stats.OutputTokens, 0)+statusNote(e.Status))
		case len(e.Usage) > 0 && string(e.Usage) != "null":
			var u struct {
				cliTokens
				CacheRead  int64 `json:"cache_read_input_tokens"`
				CacheWrite int64 `json:"cache_creation_input_tokens"`
			}
			_ = json.Unmarshal(e.Usage, &u)
			note := usageNote(u.InputTokens+u.CacheRead+u.CacheWrite, u.OutputTokens, e.Cost)
			if e.IsError || (e.Subtype != "" && e.Subtype != "success") {
				return set("error", "result", note+"; failed")
			}
			return set("usage", "result", note)
		case e.IsError:
			return set("error", "result", "")
		}
		return set("message", "result", "")
	// Gemini CLI (and the command protocol's message).
	case "init":
		return set("event", "session", "")
	case "message":
		if e.Role == "user" {
			return set("message", "prompt", "")
		}
		return set("message", "message", "")
	case "tool_use":
		if e.Part != nil { // OpenCode: the call and its outcome in one line
			return set("tool-call", "tool call", strings.TrimSpace(e.Part.Tool+" "+e.Part.State.Status))
		}
		return set("tool-call", "tool call", e.ToolName)
	case "tool_result":
		return set("tool-result", "tool result", e.Status)
	// OpenCode.
	case "step_start":
		return set("event", "step", "")
	case "text":
		return set("message", "message", "")
	case "reasoning":
		return set("message", "reasoning", "")
	case "step_finish":
		if e.Part != nil && e.Part.Tokens != nil {
			t := e.Part.Tokens
			return set("usage", "usage", usageNote(t.Input+t.Cache.Read, t.Output, e.Part.Cost))
		}
		return set("usage", "usage", "")
	// The command protocol.
	case "usage":
		return set("usage", "usage", usageNote(e.InputTokens, e.OutputTokens, e.CostUSD))
	}
	return row
}

func usageNote(in, out int64, cost float64) string {
	s := groupDigits(in) + " in · " + groupDigits(out) + " out"
	if cost > 0 {
		s += fmt.Sprintf(" · $%.4f", cost)
	}
	return s
}

func statusNote(status string) string {
	if status == "" || status == "success" {
		return ""
	}
	return "; " + status
}

// clip cuts s to n runes, on one line.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// groupDigits writes n with thousands separators: 52,428,800.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
