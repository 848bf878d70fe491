package aider

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"

	"github.com/agentorg/agentorg"
)

// aider's usage report (base_coder.calculate_and_show_tokens_and_cost):
//
//	Tokens: 12k sent, 1.2k cache write, 3.4k cache hit, 567 received. Cost: $0.01 message, $0.05 session.
//
// The cache parts appear only when non-zero; the Cost part only when aider
// knows the model's prices, and after a newline when both cache parts are
// there. Counts go through utils.format_tokens: n below 1000, "1.2k" below
// 10000, "12k" above.
//
// The report is read from the chat history file, not stdout: without a
// terminal, aider's rich console wraps stdout at 80 columns and the report
// may be split anywhere, while io.tool_output logs it to the history as one
// "> " line.
var (
	tokensRe = regexp.MustCompile(`^Tokens: ([0-9.]+k?) sent(?:, ([0-9.]+k?) cache write)?(?:, ([0-9.]+k?) cache hit)?, ([0-9.]+k?) received\.`)
	costRe   = regexp.MustCompile(`^(?:.* )?Cost: \$([0-9.]+) message, \$([0-9.]+) session\.`)
)

// maxHistoryLine bounds one history line kept; longer ones are skipped.
const maxHistoryLine = 1 << 20

// history is what one run appended to aider's chat history file.
type history struct {
	reply   string // the model's last reply
	usage   agentorg.Usage
	reports int // usage reports: one per completed model reply
}

// parseHistory reads a piece of aider's chat history (io.append_chat_history):
// user messages are "#### " lines, aider's notices (the usage report among
// them) "> " lines, a new chat starts with "# aider chat started at", and
// everything else is what the model said (io.ai_output).
func parseHistory(data []byte) history {
	var h history
	var last, cur []string
	flush := func() {
		if strings.TrimSpace(strings.Join(cur, "\n")) != "" {
			last = cur
		}
		cur = nil
	}
	for _, b := range bytes.Split(data, []byte("\n")) {
		if len(b) > maxHistoryLine {
			continue
		}
		line := strings.TrimSuffix(string(b), "\r")
		notice, isNotice := strings.CutPrefix(line, "> ")
		switch {
		case isNotice || line == ">":
			flush()
			notice = strings.TrimSpace(notice)
			if m := tokensRe.FindStringSubmatch(notice); m != nil {
				h.reports++
				h.usage.InputTokens += tokens(m[1])
				h.usage.CachedTokens += tokens(m[3])
				h.usage.OutputTokens += tokens(m[4])
			}
			h.usage.CostUSD += cost(notice)
		case costRe.MatchString(strings.TrimSpace(line)):
			// The Cost half of a report split by a newline.
			flush()
			h.usage.CostUSD += cost(strings.TrimSpace(line))
		case strings.HasPrefix(line, "#### "), line == "####", strings.HasPrefix(line, "# aider chat started at"):
			flush()
		default:
			cur = append(cur, line)
		}
	}
	flush()
	h.reply = strings.TrimSpace(strings.Join(last, "\n"))
	return h
}

func cost(s string) float64 {
	m := costRe.FindStringSubmatch(s)
	if m == nil {
		return 0
	}
	c, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0
	}
	return c
}

// tokens reads a count printed by format_tokens ("567", "1.2k", "12k").
func tokens(s string) int64 {
	if s == "" {
		return 0
	}
	mult := 1.0
	if n, ok := strings.CutSuffix(s, "k"); ok {
		s, mult = n, 1000
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0
	}
	return int64(f*mult + 0.5)
}
