package gemini

import (
	"testing"

	"fmt"
	"github.com/agentorg/agentorg/agent/agenttest"
	"github.com/agentorg/agentorg/agent/cli"
	"github.com/agentorg/agentorg/agent/cli/fakecli"
	"os"
	"strings"
	"time"
)

// The test binary doubles as a fake Gemini CLI: TestMain runs fakeMain when
// fakeEnv is set, so the adapter drives a real subprocess that prints lines
// shaped like gemini 0.61.0's stream-json output (captured from the real
// CLI against a scripted model server).
const fakeEnv = "AGENTORG_FAKE_GEMINI"

func TestMain(m *testing.M) {
	agenttest.ActAs(format{})
	fakecli.Main(m, fakeEnv, fakeMain)
}

func fakeMain(mode string) int {
	// Record what the adapter passed, in the working directory.
	stdin := fakecli.Record(true)

	session := "2f1c9a4e-7b1d-4d38-9a55-0c4be1d3e7aa"
	for i, a := range os.Args {
		if a == "--resume" && i+1 < len(os.Args) {
			session = os.Args[i+1]
		}
	}
	out := func(s string) { fmt.Println(s) }
	ts := `"timestamp":"2026-11-25T15:40:00.000Z"`
	initLine := `{"type":"init",` + ts + `,"session_id":"` + session + `","model":"auto"}`
	user := `{"type":"message",` + ts + `,"role":"user","content":` + fakecli.JSONString(string(stdin)) + `}`
	stats := `"stats":{"total_tokens":3702,"input_tokens":3600,"output_tokens":102,"cached":600,"input":3000,"duration_ms":812,"tool_calls":1,"models":{"gemini-3.8-flash":{"total_tokens":2468,"input_tokens":2400,"output_tokens":68,"cached":400,"input":2000},"gemini-3.5-flash-lite":{"total_tokens":1234,"input_tokens":1200,"output_tokens":34,"cached":200,"input":1000}}}`
	toolTurn := func() {
		out(`{"type":"message",` + ts + `,"role":"assistant","content":"I will create hello.txt.","delta":true}`)
		out(`{"type":"tool_use",` + ts + `,"tool_name":"write_file","tool_id":"write_file_1764085200000_0","parameters":{"file_path":"/w/hello.txt","content":"hello\n"}}`)
		out(`{"type":"tool_result",` + ts + `,"tool_id":"write_file_1764085200000_0","status":"success","output":"Successfully created and wrote to new file: /w/hello.txt."}`)
	}
	switch mode {
	case "success":
		out(initLine)
		out(user)
		toolTurn()
		out(`{"type":"message",` + ts + `,"role":"assistant","content":"Created ","delta":true}`)
		out(`{"type":"message",` + ts + `,"role":"assistant","content":"hello.txt.","delta":true}`)
		fmt.Fprintln(os.Stderr, "Ripgrep is not available. Falling back to GrepTool.")
		out(`{"type":"result",` + ts + `,"status":"success",` + stats + `}`)
	case "api-error":
		// handleError: an error result with the API's message, then the
		// error's exit code (1 for an API error).
		out(initLine)
		out(user)
		out(`{"type":"error",` + ts + `,"severity":"warning","message":"Retrying after 500"}`)
		fmt.Fprintln(os.Stderr, "Error when talking to Gemini API Full report available at: /tmp/gemini-client-error.json")
		out(`{"type":"result",` + ts + `,"status":"error","error":{"type":"ApiError","message":"[API Error: model overloaded (Status: 500)]"},"stats":{"total_tokens":0,"input_tokens":0,"output_tokens":0,"cached":0,"input":0,"duration_ms":0,"tool_calls":0,"models":{}}}`)
		return 1
	case "invalid-stream":
		// An INVALID_STREAM error: an error line, then an error result
		// without an error object, and exit 0.
		out(initLine)
		out(user)
		out(`{"type":"error",` + ts + `,"severity":"error","message":"Model stream ended with empty response text."}`)
		out(`{"type":"result",` + ts + `,"status":"error",` + stats + `}`)
	case "resume-elsewhere":
		fmt.Fprintln(os.Stderr, "Error resuming session: No previous sessions found for this project.")
		return 42
	case "crash":
		out(initLine)
		fmt.Fprintln(os.Stderr, "early noise")
		fmt.Fprintln(os.Stderr, "FATAL ERROR: Reached heap limit Allocation failed")
		return 134
	case "no-result":
		out(initLine)
		out(user)
		out(`{"type":"message",` + ts + `,"role":"assistant","content":"half an answer","delta":true}`)
	case "no-init":
		out(`{"type":"result",` + ts + `,"status":"success",` + stats + `}`)
	case "malformed":
		out("not json at all")
		out(`{broken`)
		out(`["an","array"]`)
		out(`{"type":"frobnicate","x":1}`)
		out(`{"type":42}`)
		out(initLine)
		out(`{"type":"message","role":"assistant","content":17}`)
		out(`{"type":"message",` + ts + `,"role":"assistant","content":"fine","delta":true}`)
		out("   ")
		fmt.Print(`{"type":"result",` + ts + `,"status":"success",` + stats + "}\r\n")
		out("trailing log after the result")
	case "malformed-result":
		out(initLine)
		out(`{"type":"result","status":"success","stats":{"input_tokens":"many"}}`)
	case "long":
		out(initLine)
		line := strings.Repeat("x", 50) + "\n"
		w := strings.Repeat(line, 100000)
		fmt.Print(w) // 5 MB of log lines
		fmt.Println(strings.Repeat("y", 9_000_000))
		toolTurn()
		out(`{"type":"message",` + ts + `,"role":"assistant","content":"` + strings.Repeat("z", 1_000_000) + `","delta":true}`)
		out(`{"type":"result",` + ts + `,"status":"success",` + stats + `}`)
	case "stall":
		out(initLine)
		fmt.Fprintln(os.Stderr, "last words")
		time.Sleep(30 * time.Second)
		out(`{"type":"result",` + ts + `,"status":"success",` + stats + `}`)
	case "pgid":
		out(initLine)
		out(fmt.Sprintf(`{"type":"message","role":"assistant","content":"%d"}`, fakecli.Pgid()))
		out(`{"type":"result",` + ts + `,"status":"success",` + stats + `}`)
	default:
		fmt.Fprintln(os.Stderr, "unknown fake mode", mode)
		return 2
	}
	return 0
}

// withMaxLine is a with a smaller limit on the stdout lines it parses.
func withMaxLine(a *Agent, n int) *Agent {
	tl := a.Tool()
	tl.MaxLine = n
	return cli.New(tl)
}
