package workflow

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"text/template"
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
	var out []templateError
	if err := t.Execute(io.Discard, fullSample); err != nil {
		out = append(out, splitTemplateError(name, err))
	}
	if err := t.Execute(io.Discard, emptySample); err != nil {
		te := splitTemplateError(name, err)
		if strings.Contains(te.msg, "can't evaluate field") && (len(out) == 0 || out[0] != te) {
			out = append(out, te)
		}
	}
	return out
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
