package aider

import (
	"testing"

	"fmt"
	"github.com/agentorg/agentorg/agent/agenttest"
	"github.com/agentorg/agentorg/agent/cli/fakecli"
	"os"
	"strings"
	"time"
)

// The test binary doubles as a fake aider: TestMain runs fakeMain when
// fakeEnv is set. Aider cannot be installed here, so the fake follows
// aider's source (0.86): io.user_input, io.ai_output and io.tool_output
// append to the chat history file exactly as below, and stdout is the rich
// console's plain output, wrapped at 80 columns.
const fakeEnv = "AGENTORG_FAKE_AIDER"

func TestMain(m *testing.M) {
	agenttest.ActAs(format{})
	fakecli.Main(m, fakeEnv, fakeMain)
}

func fakeMain(mode string) int {
	fakecli.Record(false)
	var msgFile, histFile string
	restore := false
	for i, a := range os.Args {
		switch {
		case a == "--message-file" && i+1 < len(os.Args):
			msgFile = os.Args[i+1]
		case a == "--chat-history-file" && i+1 < len(os.Args):
			histFile = os.Args[i+1]
		case a == "--restore-chat-history":
			restore = true
		}
	}
	msg, err := os.ReadFile(msgFile)
	if err != nil {
		fmt.Printf("Message file not found: %s\n", msgFile)
		return 1
	}
	os.WriteFile(".fake-message", msg, 0o644)

	// What an earlier run left, for the resume check.
	earlier, _ := os.ReadFile(histFile)
	hist, err := os.OpenFile(histFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer hist.Close()
	logH := func(s string) { hist.WriteString(s) }
	userInput := func(s string) {
		logH("\n#### " + strings.Join(strings.Split(s, "\n"), "  \n#### ") + "  \n")
	}
	aiOutput := func(s string) { logH("\n" + strings.TrimSpace(s) + "\n\n") }
	toolOutput := func(s string) {
		logH("> " + strings.TrimSpace(s) + "  \n")
		fmt.Println(wrap80(s))
	}

	fmt.Println("Aider v0.86.1")
	fmt.Println("Model: openai/scripted with whole edit format")
	fmt.Println("Git repo: .git with 3 files")
	logH("\n# aider chat started at 2026-11-25 15:40:00\n\n")
	userInput(string(msg))
	fmt.Println()

	switch mode {
	case "success":
		reply := "I will fix the sign in Add.\n\ncalc.go\n```go\nfunc Add(a, b int) int {\n\treturn a + b\n}\n```"
		fmt.Println(reply)
		aiOutput(reply)
		toolOutput("Applied edit to calc.go")
		toolOutput("Tokens: 2.3k sent, 120 received. Cost: $0.0041 message, $0.0041 session.")
		// A lint reflection: a second reply in the same run.
		toolOutput("Found lint errors; reflecting")
		final := "Fixed the sign error in Add.\n    indented line kept"
		fmt.Println(final)
		aiOutput(final)
		toolOutput("Tokens: 12k sent, 1.5k cache hit, 87 received. Cost: $0.03 message, $0.0341 session.")
	case "cache-split":
		// Both cache parts: the Cost part goes on a line of its own, and the
		// report is longer than the console's 80 columns.
		fmt.Println("Done.")
		aiOutput("Done.")
		toolOutput("Tokens: 15k sent, 1.2k cache write, 9.8k cache hit, 432 received.\nCost: $0.12 message, $0.12 session.")
	case "no-prices":
		aiOutput("Answered.")
		toolOutput("Tokens: 999 sent, 5 received.")
	case "resume":
		if !restore || !strings.Contains(string(earlier), "#### ") {
			fmt.Println("no history restored")
			return 3
		}
		n := strings.Count(string(earlier), "\n#### ")
		reply := fmt.Sprintf("Restored %d earlier user lines.", n)
		aiOutput(reply)
		toolOutput("Tokens: 3.1k sent, 40 received.")
	case "api-error":
		// litellm errors are printed, retried, then aider gives up: exit 0.
		toolOutput("litellm.APIConnectionError: OpenAIException - Connection error.")
		toolOutput("Retrying in 0.2 seconds...")
		toolOutput("litellm.APIConnectionError: OpenAIException - Connection error.")
		toolOutput("The API provider is not reachable.")
	case "crash":
		fmt.Fprintln(os.Stderr, "Traceback (most recent call last):")
		fmt.Fprintln(os.Stderr, "ModuleNotFoundError: No module named 'litellm'")
		return 1
	case "long":
		fmt.Print(strings.Repeat(strings.Repeat("x", 50)+"\n", 100000))
		fmt.Println(strings.Repeat("y", 3_000_000))
		long := strings.Repeat("z", 2_000_000)
		aiOutput("short reply\n" + long + "\nend of reply")
		toolOutput("Tokens: 1.0k sent, 10 received.")
	case "stall":
		fmt.Fprintln(os.Stderr, "last words")
		time.Sleep(30 * time.Second)
	case "pgid":
		g := fakecli.Pgid()
		aiOutput(fmt.Sprint(g))
		toolOutput("Tokens: 1 sent, 1 received.")
	default:
		fmt.Fprintln(os.Stderr, "unknown fake mode", mode)
		return 2
	}
	return 0
}

// wrap80 wraps like rich's console without a terminal: words, 80 columns.
func wrap80(s string) string {
	var out []string
	for _, para := range strings.Split(s, "\n") {
		line := ""
		for _, w := range strings.Fields(para) {
			if line != "" && len(line)+1+len(w) > 80 {
				out = append(out, line)
				line = w
				continue
			}
			if line != "" {
				line += " "
			}
			line += w
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}
