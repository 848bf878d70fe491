package aider

import (
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/agent/agenttest"
)

// format plays turns as aider 0.86's source says it does, for the contract
// suite's fake: the prompt comes from --message-file, and io.user_input,
// io.ai_output and io.tool_output append to the chat history file as below,
// while stdout is the console's plain output.
type format struct{}

// Resumed is the directory's conversation when aider restores it.
func (f format) Resumed(args []string) string {
	if slices.Contains(args, "--restore-chat-history") {
		return f.NewSession()
	}
	return ""
}

// NewSession is the directory's conversation, the only one aider has.
func (format) NewSession() string {
	dir, _ := os.Getwd()
	id, _ := SessionID(dir)
	return id
}

func (format) Prompt(args []string, _ io.Reader) (string, error) {
	b, err := os.ReadFile(agenttest.ArgAfter(args, "--message-file"))
	return string(b), err
}

// logHistory appends to the chat history file.
func logHistory(p *agenttest.Play, s string) {
	f, err := os.OpenFile(agenttest.ArgAfter(p.Args, "--chat-history-file"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	f.WriteString(s)
}

func toolOutput(p *agenttest.Play, s string) {
	logHistory(p, "> "+strings.TrimSpace(s)+"  \n")
	fmt.Fprintln(p.Out, s)
}

func (format) Begin(p *agenttest.Play) {
	fmt.Fprintln(p.Out, "Aider v0.86.1\nModel: openai/scripted with whole edit format")
	logHistory(p, "\n# aider chat started at 2026-11-25 15:40:00\n\n")
	logHistory(p, "\n#### "+strings.Join(strings.Split(p.Prompt, "\n"), "  \n#### ")+"  \n")
	p.Told = true // the session is the directory's
}

// End logs the reply and aider's usage report, whose counts and cost are
// rounded as aider prints them; a model API error gets no report.
func (format) End(p *agenttest.Play) agentorg.Usage {
	t := p.Turn
	if t.Error != "" {
		toolOutput(p, "litellm.APIConnectionError: "+t.Error)
		toolOutput(p, "The API provider is not reachable.")
		return agentorg.Usage{}
	}
	if t.Summary != "" {
		fmt.Fprintln(p.Out, t.Summary)
		logHistory(p, "\n"+strings.TrimSpace(t.Summary)+"\n\n")
	}
	u := t.Usage
	report := "Tokens: " + tokensText(u.InputTokens) + " sent, "
	if u.CachedTokens > 0 {
		report += tokensText(u.CachedTokens) + " cache hit, "
	}
	report += tokensText(u.OutputTokens) + " received."
	cost := costText(u.CostUSD)
	if u.CostUSD > 0 {
		report += " Cost: $" + cost + " message, $" + costText(p.Prior.CostUSD+u.CostUSD) + " session."
	}
	toolOutput(p, report)
	u.InputTokens, u.CachedTokens, u.OutputTokens = tokens(tokensText(u.InputTokens)),
		tokens(tokensText(u.CachedTokens)), tokens(tokensText(u.OutputTokens))
	u.CostUSD, _ = strconv.ParseFloat(cost, 64)
	return u
}

// tokensText is utils.format_tokens.
func tokensText(n int64) string {
	switch {
	case n < 1000:
		return strconv.FormatInt(n, 10)
	case n < 10000:
		return fmt.Sprintf("%.1fk", float64(n)/1000)
	}
	return fmt.Sprintf("%dk", int64(math.Round(float64(n)/1000)))
}

// costText is base_coder's format_cost.
func costText(v float64) string {
	if v == 0 {
		return "0.00"
	}
	if v >= 0.01 {
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.*f", max(2, 2-int(math.Log10(v))), v)
}
