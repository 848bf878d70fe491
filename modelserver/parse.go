package modelserver

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The server reduces every API's request to the same few things: the
// conversation as events, the texts in which the CLI states its working
// directory, and the tools it declares.

type eventKind int

const (
	evUser      eventKind = iota // text from the user (prompts, reminders, context)
	evCall                       // a tool call by the model
	evResult                     // a tool result sent back
	evAssistant                  // text by the model
)

type event struct {
	kind eventKind
	text string
	id   string // call id of a tool result, "" when the API has none
}

type toolDecl struct {
	name   string
	custom bool            // a Responses freeform tool: its input is a raw string
	params map[string]bool // property names, nil when the schema is unknown
}

type parsed struct {
	api          string
	stream       bool
	model        string
	events       []event
	context      []string // texts that may state the cwd, in conversation order
	tools        []toolDecl
	jsonSchema   any  // schema the answer must follow (Gemini router), when wantsJSON
	wantsJSON    bool // the request asks for a JSON answer
	includeUsage bool // Chat: stream_options.include_usage
}

func (p *parsed) user(text string) {
	if strings.TrimSpace(text) == "" {
		return
	}
	p.events = append(p.events, event{kind: evUser, text: text})
	p.context = append(p.context, text)
}

func (p *parsed) assistant(text string) {
	if strings.TrimSpace(text) == "" {
		return
	}
	p.events = append(p.events, event{kind: evAssistant, text: text})
}

func (p *parsed) call(name string) { p.events = append(p.events, event{kind: evCall, text: name}) }

func (p *parsed) result(id string) { p.events = append(p.events, event{kind: evResult, id: id}) }

func (p *parsed) system(text string) {
	if text != "" {
		p.context = append(p.context, text)
	}
}

func (p *parsed) tool(name string) *toolDecl {
	for i := range p.tools {
		if p.tools[i].name == name {
			return &p.tools[i]
		}
	}
	return nil
}

func paramsOf(schema json.RawMessage) map[string]bool {
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if len(schema) == 0 || json.Unmarshal(schema, &s) != nil || s.Properties == nil {
		return nil
	}
	m := make(map[string]bool, len(s.Properties))
	for k := range s.Properties {
		m[k] = true
	}
	return m
}

// textOf reads content that is either a string or a list of parts with text.
func textOf(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return ""
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Text == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString(p.Text)
	}
	return b.String()
}

func parseRequest(api, path string, body []byte) (*parsed, error) {
	p := &parsed{api: api}
	var err error
	switch api {
	case "responses":
		err = parseResponses(p, body)
	case "chat":
		err = parseChat(p, body)
	case "messages":
		err = parseMessages(p, body)
	case "gemini":
		err = parseGemini(p, path, body)
	default:
		err = fmt.Errorf("no parser for %s", api)
	}
	if err != nil {
		return nil, fmt.Errorf("modelserver: %s request body: %w", api, err)
	}
	return p, nil
}

// OpenAI Responses: input items, tools of type function or custom.
func parseResponses(p *parsed, body []byte) error {
	var req struct {
		Model        string            `json:"model"`
		Stream       bool              `json:"stream"`
		Instructions string            `json:"instructions"`
		Input        json.RawMessage   `json:"input"`
		Tools        []json.RawMessage `json:"tools"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return err
	}
	p.model, p.stream = req.Model, req.Stream
	p.system(req.Instructions)
	for _, raw := range req.Tools {
		var t struct {
			Type       string          `json:"type"`
			Name       string          `json:"name"`
			Parameters json.RawMessage `json:"parameters"`
		}
		if json.Unmarshal(raw, &t) != nil || t.Name == "" {
			continue
		}
		switch t.Type {
		case "function":
			p.tools = append(p.tools, toolDecl{name: t.Name, params: paramsOf(t.Parameters)})
		case "custom":
			p.tools = append(p.tools, toolDecl{name: t.Name, custom: true})
		}
	}
	var s string
	if json.Unmarshal(req.Input, &s) == nil {
		p.user(s)
		return nil
	}
	var items []struct {
		Type    string          `json:"type"`
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
		Name    string          `json:"name"`
		CallID  string          `json:"call_id"`
	}
	if len(req.Input) > 0 {
		if err := json.Unmarshal(req.Input, &items); err != nil {
			return fmt.Errorf("input: %w", err)
		}
	}
	for _, it := range items {
		switch it.Type {
		case "", "message":
			switch it.Role {
			case "user":
				p.user(textOf(it.Content))
			case "assistant":
				p.assistant(textOf(it.Content))
			default: // developer, system
				p.system(textOf(it.Content))
			}
		case "function_call", "custom_tool_call", "local_shell_call":
			p.call(it.Name)
		case "function_call_output", "custom_tool_call_output", "local_shell_call_output":
			p.result(it.CallID)
		}
	}
	return nil
}

// OpenAI Chat Completions: messages with roles system, user, assistant, tool.
func parseChat(p *parsed, body []byte) error {
	var req struct {
		Model    string `json:"model"`
		Stream   bool   `json:"stream"`
		Messages []struct {
			Role       string          `json:"role"`
			Content    json.RawMessage `json:"content"`
			ToolCallID string          `json:"tool_call_id"`
			ToolCalls  []struct {
				ID       string `json:"id"`
				Function struct {
					Name string `json:"name"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"messages"`
		Tools []struct {
			Type     string `json:"type"`
			Function struct {
				Name       string          `json:"name"`
				Parameters json.RawMessage `json:"parameters"`
			} `json:"function"`
		} `json:"tools"`
		StreamOptions struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
		ResponseFormat struct {
			Type       string `json:"type"`
			JSONSchema struct {
				Schema any `json:"schema"`
			} `json:"json_schema"`
		} `json:"response_format"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return err
	}
	p.model, p.stream, p.includeUsage = req.Model, req.Stream, req.StreamOptions.IncludeUsage
	for _, t := range req.Tools {
		if t.Function.Name != "" {
			p.tools = append(p.tools, toolDecl{name: t.Function.Name, params: paramsOf(t.Function.Parameters)})
		}
	}
	switch req.ResponseFormat.Type {
	case "json_schema":
		p.wantsJSON, p.jsonSchema = true, req.ResponseFormat.JSONSchema.Schema
	case "json_object":
		p.wantsJSON = true
	}
	for i, m := range req.Messages {
		switch m.Role {
		case "user":
			p.user(textOf(m.Content))
		case "assistant":
			p.assistant(textOf(m.Content))
			for _, c := range m.ToolCalls {
				p.call(c.Function.Name)
			}
		case "tool", "function":
			p.result(m.ToolCallID)
		case "system", "developer":
			p.system(textOf(m.Content))
		default:
			return fmt.Errorf("messages[%d]: unknown role %q", i, m.Role)
		}
	}
	return nil
}

// Anthropic Messages: system blocks, user and assistant content blocks, and
// (Claude Code) role "system" turns in mid-conversation.
func parseMessages(p *parsed, body []byte) error {
	var req struct {
		Model    string          `json:"model"`
		Stream   bool            `json:"stream"`
		System   json.RawMessage `json:"system"`
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		Tools []struct {
			Name        string          `json:"name"`
			InputSchema json.RawMessage `json:"input_schema"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return err
	}
	p.model, p.stream = req.Model, req.Stream
	p.system(textOf(req.System))
	for _, t := range req.Tools {
		if t.Name != "" && len(t.InputSchema) > 0 {
			p.tools = append(p.tools, toolDecl{name: t.Name, params: paramsOf(t.InputSchema)})
		}
	}
	for i, m := range req.Messages {
		var s string
		if json.Unmarshal(m.Content, &s) == nil {
			switch m.Role {
			case "user":
				p.user(s)
			case "assistant":
				p.assistant(s)
			default:
				p.system(s)
			}
			continue
		}
		var blocks []struct {
			Type      string `json:"type"`
			Text      string `json:"text"`
			Name      string `json:"name"`
			ToolUseID string `json:"tool_use_id"`
		}
		if err := json.Unmarshal(m.Content, &blocks); err != nil {
			return fmt.Errorf("messages[%d].content: %w", i, err)
		}
		for _, b := range blocks {
			switch {
			case b.Type == "text" && m.Role == "user":
				p.user(b.Text)
			case b.Type == "text" && m.Role == "assistant":
				p.assistant(b.Text)
			case b.Type == "text":
				p.system(b.Text)
			case b.Type == "tool_use" || b.Type == "server_tool_use":
				p.call(b.Name)
			case b.Type == "tool_result":
				p.result(b.ToolUseID)
			}
		}
	}
	return nil
}

// Gemini generateContent: contents of user and model parts, function
// declarations, and a JSON response schema for structured requests.
func parseGemini(p *parsed, path string, body []byte) error {
	var req struct {
		Contents []struct {
			Role  string `json:"role"`
			Parts []struct {
				Text         *string `json:"text"`
				Thought      bool    `json:"thought"`
				FunctionCall *struct {
					Name string `json:"name"`
				} `json:"functionCall"`
				FunctionResponse *struct {
					ID   string `json:"id"`
					Name string `json:"name"`
				} `json:"functionResponse"`
			} `json:"parts"`
		} `json:"contents"`
		SystemInstruction *struct {
			Parts []struct {
				Text string `json:"text"`
			} `json:"parts"`
		} `json:"systemInstruction"`
		Tools []struct {
			FunctionDeclarations []struct {
				Name                 string          `json:"name"`
				Parameters           json.RawMessage `json:"parameters"`
				ParametersJSONSchema json.RawMessage `json:"parametersJsonSchema"`
			} `json:"functionDeclarations"`
		} `json:"tools"`
		GenerationConfig struct {
			ResponseMimeType   string `json:"responseMimeType"`
			ResponseJSONSchema any    `json:"responseJsonSchema"`
			ResponseSchema     any    `json:"responseSchema"`
		} `json:"generationConfig"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return err
	}
	name := strings.TrimPrefix(path, "/v1beta/models/")
	p.model, _, _ = strings.Cut(name, ":")
	p.stream = strings.HasSuffix(path, ":streamGenerateContent")
	if req.SystemInstruction != nil {
		for _, part := range req.SystemInstruction.Parts {
			p.system(part.Text)
		}
	}
	for _, t := range req.Tools {
		for _, f := range t.FunctionDeclarations {
			schema := f.ParametersJSONSchema
			if len(schema) == 0 {
				schema = f.Parameters
			}
			p.tools = append(p.tools, toolDecl{name: f.Name, params: paramsOf(schema)})
		}
	}
	if gc := req.GenerationConfig; gc.ResponseMimeType == "application/json" {
		p.wantsJSON = true
		p.jsonSchema = gc.ResponseJSONSchema
		if p.jsonSchema == nil {
			p.jsonSchema = gc.ResponseSchema
		}
	}
	for _, c := range req.Contents {
		for _, part := range c.Parts {
			switch {
			case part.FunctionCall != nil:
				p.call(part.FunctionCall.Name)
			case part.FunctionResponse != nil:
				p.result(part.FunctionResponse.ID)
			case part.Text != nil && !part.Thought && c.Role == "model":
				p.assistant(*part.Text)
			case part.Text != nil && !part.Thought:
				p.user(*part.Text)
			}
		}
	}
	return nil
}
