package web

import (
	"bytes"
	"html/template"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// md renders the Markdown agentorg writes (validation reports: tables of
// criteria and checks, fenced output) as HTML. Agents' words are in it, so
// it is rendered safe: goldmark leaves raw HTML out unless told otherwise
// (it is not told) and drops dangerous link targets (javascript:).
var md = goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough))

// markdown is the template function: text as safe HTML, or the text
// escaped in a <pre> when it cannot be rendered.
func markdown(text string) template.HTML {
	var b bytes.Buffer
	if err := md.Convert([]byte(text), &b); err != nil {
		return template.HTML("<pre>" + template.HTMLEscapeString(text) + "</pre>")
	}
	return template.HTML(b.String())
}
