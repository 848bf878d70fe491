package opencode

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

// The test binary doubles as a fake OpenCode: TestMain runs fakeMain when
// fakeEnv is set. Its lines are shaped like opencode 1.18.33's
// `run --format json` output, captured from the real CLI against the
// scripted model server.
const fakeEnv = "AGENTORG_FAKE_OPENCODE"

func TestMain(m *testing.M) {
	agenttest.ActAs(format{})
	fakecli.Main(m, fakeEnv, fakeMain)
}

func fakeMain(mode string) int {
	fakecli.Record(true)

	session := "ses_dec9bef20ffeUKViW5kg2OSDeI"
	for i, a := range os.Args {
		if a == "--session" && i+1 < len(os.Args) {
			session = os.Args[i+1]
		}
	}
	out := func(s string) { fmt.Println(s) }
	head := func(typ string) string {
		return `{"type":"` + typ + `","timestamp":1795621661554,"sessionID":"` + session + `"`
	}
	stepStart := head("step_start") + `,"part":{"id":"prt_1","messageID":"msg_1","sessionID":"` + session + `","snapshot":"4b825dc6","type":"step-start"}}`
	text := func(s string) string {
		return head("text") + `,"part":{"id":"prt_2","messageID":"msg_1","sessionID":"` + session + `","type":"text","text":` + fakecli.JSONString(s) + `,"time":{"start":1795621661828,"end":1795621661831}}}`
	}
	tool := head("tool_use") + `,"part":{"type":"tool","tool":"write","callID":"call_1","state":{"status":"completed","input":{"filePath":"/w/hello.txt","content":"hello\n"},"output":"Wrote file successfully.","title":"hello.txt","time":{"start":1,"end":2}},"id":"prt_3","sessionID":"` + session + `","messageID":"msg_1"}}`
	finish := func(reason string, input, read, output, reasoning int, cost float64) string {
		return head("step_finish") + fmt.Sprintf(`,"part":{"id":"prt_4","reason":%q,"snapshot":"4b825dc6","messageID":"msg_1","sessionID":"%s","type":"step-finish","tokens":{"total":%d,"input":%d,"output":%d,"reasoning":%d,"cache":{"write":0,"read":%d}},"cost":%g}}`,
			reason, session, input+read+output, input, output, reasoning, read, cost)
	}
	apiError := head("error") + `,"error":{"name":"APIError","data":{"message":"scripted failure","statusCode":400,"isRetryable":false,"responseBody":"{\"error\":{\"message\":\"scripted failure\"}}"}}}`
	switch mode {
	case "success":
		out(stepStart)
		out(text("I will write hello.txt."))
		out(tool)
		out(finish("tool-calls", 1000, 200, 34, 0, 0.0125))
		out(stepStart)
		out(text("Created hello.txt."))
		out(text("All done."))
		fmt.Fprintln(os.Stderr, "INFO some log")
		out(finish("stop", 1500, 700, 40, 6, 0.0075))
	case "api-error":
		out(apiError)
		fmt.Fprintln(os.Stderr, "Error: scripted failure")
		return 1
	case "error-exit-0":
		out(stepStart)
		out(apiError)
		out(finish("stop", 1000, 200, 34, 0, 0))
	case "session-not-found":
		fmt.Fprintln(os.Stderr, "\x1b[91m\x1b[1mError: \x1b[0mSession not found")
		return 1
	case "tool-calls-last":
		out(stepStart)
		out(tool)
		out(finish("tool-calls", 1000, 200, 34, 0, 0))
	case "length":
		out(stepStart)
		out(text("cut off mid"))
		out(finish("length", 1000, 200, 34, 0, 0))
	case "unfinished":
		out(stepStart)
		out(text("half an answer"))
		out(finish("stop", 1000, 200, 34, 0, 0))
		out(stepStart) // a new step began and never finished
		out(text("more"))
	case "nothing":
	case "malformed":
		out("not json at all")
		out(`{broken`)
		out(`["an","array"]`)
		out(`{"type":"frobnicate","x":1}`)
		out(`{"type":42}`)
		out(stepStart)
		out(head("text") + `,"part":{"text":17}}`)
		out(text("fine"))
		out("   ")
		fmt.Print(finish("stop", 1000, 200, 34, 0, 0) + "\r\n")
		out("trailing log")
	case "malformed-finish":
		out(stepStart)
		out(text("x"))
		out(head("step_finish") + `,"part":{"reason":"stop","tokens":{"input":"many"}}}`)
	case "long":
		out(stepStart)
		fmt.Print(strings.Repeat(strings.Repeat("x", 50)+"\n", 100000))
		fmt.Println(strings.Repeat("y", 9_000_000))
		out(text(strings.Repeat("z", 1_000_000)))
		out(finish("stop", 1000, 200, 34, 0, 0))
	case "stall":
		out(stepStart)
		fmt.Fprintln(os.Stderr, "last words")
		time.Sleep(30 * time.Second)
		out(finish("stop", 1000, 200, 34, 0, 0))
	case "pgid":
		g := fakecli.Pgid()
		out(stepStart)
		out(text(fmt.Sprint(g)))
		out(finish("stop", 1, 0, 1, 0, 0))
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
