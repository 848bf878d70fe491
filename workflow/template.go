package workflow

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
	"unicode/utf8"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// Render executes the named prompt template with d. A field PromptData does
// not have is an error, as is an unknown prompt name.
func (w *Workflow) Render(prompt string, d PromptData) (string, error) {
	text, ok := w.Prompts[prompt]
	if !ok {
		return "", fmt.Errorf("workflow: no prompt %q", prompt)
	}
	t, err := newTemplate(prompt, text)
	if err != nil {
		return "", fmt.Errorf("workflow: prompt %q: %w", prompt, err)
	}
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return "", fmt.Errorf("workflow: prompt %q: %w", prompt, err)
	}
	return b.String(), nil
}

func newTemplate(name, text string) (*template.Template, error) {
	return template.New(name).Option("missingkey=error").Parse(text)
}

// templateError is a text/template error split into the template's own
// position (col is -1 when the error has none) and message.
type templateError struct {
	line, col int
	msg       string
}

// template: NAME:LINE[:COL]: MESSAGE
var templateErrRE = regexp.MustCompile(`(?s)^template: [^:]*:(\d+)(?::(\d+))?: (.*)$`)

func splitTemplateError(name string, err error) templateError {
	var ee template.ExecError
	if errors.As(err, &ee) {
		err = ee.Err
	}
	m := templateErrRE.FindStringSubmatch(err.Error())
	if m == nil {
		return templateError{msg: err.Error()}
	}
	te := templateError{col: -1, msg: m[3]}
	te.line, _ = strconv.Atoi(m[1])
	if m[2] != "" {
		te.col, _ = strconv.Atoi(m[2])
	}
	// The prompt is already named in the problem.
	te.msg = strings.TrimPrefix(te.msg, fmt.Sprintf("executing %q ", name))
	return te
}

// Sample data for checking templates: once with every field set, so that
// the usual branches run, and once empty, to reach {{if not .Plan}}-style
// branches.
var (
	fullSample = PromptData{
		Issue:     PromptIssue{Number: 42, Title: "Sample issue", Body: "Sample body.", Labels: []string{"agentorg"}},
		Repo:      PromptRepo{TargetBranch: "main", Branch: "agentorg/issue-42"},
		Role:      "developer",
		Attempt:   2,
		Plan:      "Sample plan.",
		Report:    "Sample report.",
		Feedback:  "Sample feedback.",
		RedChecks: "Sample red checks.",
		Findings:  "Sample findings.",
		Criteria:  "1. Sample criterion.",
		Diff:      "diff --git a/x b/x",
		Checks:    "test: passed",
		Threads:   "### Thread 1, on main.go:3",
		Others:    "### Thread 2, on the merge request as a whole",
		Conflicts: []PromptConflict{{Number: 41, Title: "Sample other issue", Plan: "Its plan.",
			Criteria: "- [ ] Its criterion.", Diff: "diff --git a/x b/x"}},
		Hunks: "x, lines 1-5:",
	}
	emptySample PromptData
)

// checkTemplate parses and executes a prompt template the way Render will,
// returning what fails. Execution on the empty sample only reports unknown
// fields: errors such as an index out of range there are artefacts of the
// sample, not of the template.
func checkTemplate(name, text string) []templateError {
	t, err := newTemplate(name, text)
	if err != nil {
		return []templateError{splitTemplateError(name, err)}
	}
	if n := rangeProduct(t.Tree.Root); n > maxRangeIterations {
		return []templateError{{col: -1, msg: fmt.Sprintf("its ranges over numbers run %d times or more (at most %d)", n, maxRangeIterations)}}
	}
	var out []templateError
	if err := executeBounded(t, fullSample); err != nil {
		out = append(out, splitTemplateError(name, err))
		if errors.Is(err, errRenderBound) {
			return out
		}
	}
	if err := executeBounded(t, emptySample); err != nil {
		te := splitTemplateError(name, err)
		if strings.Contains(te.msg, "can't evaluate field") && (len(out) == 0 || out[0] != te) {
			out = append(out, te)
		}
	}
	return out
}

// A prompt renders into an agent's prompt: with the sample data it must
// stay small and quick. A template that does not (a range over two billion)
// is an error at `agentorg check`, which then still ends.
const (
	renderMaxBytes = 4 << 20
	renderMaxTime  = 2 * time.Second
)

var errRenderBound = errors.New("the template renders too much or too long")

// maxRangeIterations bounds what ranges over number literals may add up to
// (nested ones multiply): a prompt never needs a million.
const maxRangeIterations = 1_000_000

// rangeProduct is the most iterations nested ranges over number literals
// make under n (ranges over data count as one: the data bounds them).
func rangeProduct(n parse.Node) int64 {
	var most int64 = 1
	walk := func(list *parse.ListNode, times int64) {
		if list == nil {
			return
		}
		for _, c := range list.Nodes {
			if p := times * rangeProduct(c); p > most {
				most = p
			}
		}
	}
	switch n := n.(type) {
	case *parse.ListNode:
		walk(n, 1)
	case *parse.RangeNode:
		times := int64(1)
		if n.Pipe != nil && len(n.Pipe.Cmds) == 1 && len(n.Pipe.Cmds[0].Args) == 1 {
			if num, ok := n.Pipe.Cmds[0].Args[0].(*parse.NumberNode); ok && num.IsInt {
				times = max(num.Int64, 1)
			}
		}
		most = max(most, times)
		walk(n.List, min(times, maxRangeIterations+1))
		walk(n.ElseList, 1)
	case *parse.IfNode:
		walk(n.List, 1)
		walk(n.ElseList, 1)
	case *parse.WithNode:
		walk(n.List, 1)
		walk(n.ElseList, 1)
	}
	return most
}

// executeBounded executes t with d into nothing, stopping at
// renderMaxBytes of output; past renderMaxTime it stops waiting (text/
// template cannot be interrupted: the execution is left to finish in the
// background of a command that is about to exit).
func executeBounded(t *template.Template, d PromptData) error {
	done := make(chan error, 1)
	go func() { done <- t.Execute(&boundedWriter{max: renderMaxBytes}, d) }()
	select {
	case err := <-done:
		return err
	case <-time.After(renderMaxTime):
		return fmt.Errorf("%w: it still runs after %s with sample data (a range over a huge number?)", errRenderBound, renderMaxTime)
	}
}

type boundedWriter struct{ n, max int }

func (w *boundedWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	if w.n > w.max {
		return 0, fmt.Errorf("%w: over %d bytes with sample data", errRenderBound, w.max)
	}
	return len(p), nil
}

// templatePos maps a position inside a prompt template back to the file.
// It is exact for block literals (|), the usual way to write prompts, and
// for single-line scalars; elsewhere YAML folding loses the mapping and the
// prompt's value is the answer.
func (d *decoder) templatePos(v value, text string, te templateError) Position {
	if te.line < 1 {
		return v.pos
	}
	tline := ""
	if lines := strings.Split(text, "\n"); te.line <= len(lines) {
		tline = lines[te.line-1]
	}
	offset := 0 // runes before the error on its template line
	if te.col >= 0 && te.col <= len(tline) {
		offset = utf8.RuneCountInString(tline[:te.col])
	}
	switch n := v.node.(type) {
	case *ast.LiteralNode:
		if n.Start == nil || n.Start.Type != token.LiteralType || n.Start.Position == nil {
			return v.pos
		}
		head := n.Start.Position.Line
		line := head + te.line
		return Position{Line: line, Column: d.blockIndent(head, n.Start.Value) + offset + 1}
	case *ast.StringNode:
		tk := n.Token
		if tk == nil || tk.Position == nil || te.line != 1 || strings.Contains(text, "\n") {
			return v.pos
		}
		col := tk.Position.Column + offset
		if tk.Type == token.SingleQuoteType || tk.Type == token.DoubleQuoteType {
			col++ // the opening quote
		}
		return Position{Line: tk.Position.Line, Column: col}
	}
	return v.pos
}

// blockIndent is the indentation of a block literal's content whose header
// (the "|" line) is on line head: the explicit indentation indicator if
// any, otherwise that of the first non-blank line, as YAML defines it.
func (d *decoder) blockIndent(head int, indicator string) int {
	for _, r := range indicator {
		if r >= '1' && r <= '9' {
			return leadingSpaces(d.line(head)) + int(r-'0')
		}
	}
	for l := head + 1; l <= len(d.lines); l++ {
		if strings.TrimSpace(d.line(l)) != "" {
			return leadingSpaces(d.line(l))
		}
	}
	return 0
}

func leadingSpaces(s string) int {
	return len(s) - len(strings.TrimLeft(s, " "))
}
