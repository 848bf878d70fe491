package modelserver

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// mapAction turns a write, edit, read, shell or call action into a call of
// the tool the CLI declared for it.
func mapAction(a Action, p *parsed, cwd string) (*toolCall, error) {
	switch {
	case a.Call != nil:
		c := &toolCall{name: a.Call.Name, args: a.Call.RawArgs}
		if t := p.tool(a.Call.Name); t != nil {
			c.custom = t.custom
		}
		if a.Call.RawArgs == "" {
			args := a.Call.Args
			if args == nil {
				args = map[string]any{}
			}
			if c.custom {
				if in, ok := args["input"].(string); ok && len(args) == 1 {
					c.args = in
					return c, nil
				}
			}
			b, err := marshalArgs(args)
			if err != nil {
				return nil, fmt.Errorf("call %s: args: %w", a.Call.Name, err)
			}
			c.args = b
		}
		return c, nil
	case a.Write != nil:
		return mapWrite(*a.Write, p, cwd)
	case a.Edit != nil:
		return mapEdit(*a.Edit, p, cwd)
	case a.Read != "":
		return mapRead(a.Read, p, cwd)
	case a.Shell != "":
		return mapShell(a.Shell, p, cwd)
	}
	return nil, fmt.Errorf("empty action")
}

func absPath(path, cwd string) string {
	if filepath.IsAbs(path) || cwd == "" {
		return path
	}
	return filepath.Join(cwd, path)
}

// builtin reports whether a tool with a path parameter belongs to agentorg's
// built-in agent (relative paths) rather than Gemini CLI (file_path).
func builtin(t *toolDecl, p *parsed) bool {
	return p.api != "gemini" && t.params["path"] && !t.params["file_path"]
}

// fnCall builds a JSON call, dropping the arguments the schema lacks.
func fnCall(t *toolDecl, args map[string]any) (*toolCall, error) {
	if t.params != nil {
		for k := range args {
			if !t.params[k] {
				delete(args, k)
			}
		}
	}
	b, err := marshalArgs(args)
	if err != nil {
		return nil, err
	}
	return &toolCall{name: t.name, args: b}, nil
}

// marshalArgs encodes arguments as JSON without escaping <, > and &, so
// that the recorded arguments read like the code they carry.
func marshalArgs(args map[string]any) (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(args); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// patchCall wraps an apply_patch patch: freeform input, or the JSON
// function form {input}.
func patchCall(t *toolDecl, patch string) (*toolCall, error) {
	if t.custom {
		return &toolCall{name: t.name, custom: true, args: patch}, nil
	}
	return fnCall(t, map[string]any{"input": patch})
}

func mapWrite(w Write, p *parsed, cwd string) (*toolCall, error) {
	if t := p.tool("apply_patch"); t != nil {
		return patchCall(t, addFilePatch(w.Path, w.Content))
	}
	if t := p.tool("Write"); t != nil {
		return fnCall(t, map[string]any{"file_path": absPath(w.Path, cwd), "content": w.Content})
	}
	if t := p.tool("write_file"); t != nil {
		if builtin(t, p) {
			return fnCall(t, map[string]any{"path": w.Path, "content": w.Content})
		}
		return fnCall(t, map[string]any{"file_path": absPath(w.Path, cwd), "content": w.Content})
	}
	if t := p.tool("write"); t != nil {
		return fnCall(t, map[string]any{"filePath": absPath(w.Path, cwd), "content": w.Content})
	}
	if c, err := mapShell("printf '%s' "+shellQuote(w.Content)+" > "+shellQuote(w.Path), p, cwd); err == nil {
		return c, nil
	}
	return nil, fmt.Errorf("no declared tool can write a file (declared: %s)", declared(p))
}

func mapEdit(e Edit, p *parsed, cwd string) (*toolCall, error) {
	if t := p.tool("apply_patch"); t != nil {
		return patchCall(t, updateFilePatch(e, absPath(e.Path, cwd)))
	}
	if t := p.tool("Edit"); t != nil {
		return fnCall(t, map[string]any{"file_path": absPath(e.Path, cwd), "old_string": e.Old, "new_string": e.New})
	}
	if t := p.tool("edit_file"); t != nil && builtin(t, p) {
		return fnCall(t, map[string]any{"path": e.Path, "old": e.Old, "new": e.New})
	}
	if t := p.tool("replace"); t != nil {
		return fnCall(t, map[string]any{"file_path": absPath(e.Path, cwd), "old_string": e.Old, "new_string": e.New,
			"instruction": "Replace the scripted text."})
	}
	if t := p.tool("edit"); t != nil {
		return fnCall(t, map[string]any{"filePath": absPath(e.Path, cwd), "oldString": e.Old, "newString": e.New})
	}
	return nil, fmt.Errorf("no declared tool can edit a file (declared: %s)", declared(p))
}

func mapRead(path string, p *parsed, cwd string) (*toolCall, error) {
	if t := p.tool("Read"); t != nil {
		return fnCall(t, map[string]any{"file_path": absPath(path, cwd)})
	}
	if t := p.tool("read_file"); t != nil {
		if builtin(t, p) {
			return fnCall(t, map[string]any{"path": path})
		}
		return fnCall(t, map[string]any{"file_path": absPath(path, cwd)})
	}
	if t := p.tool("read"); t != nil {
		return fnCall(t, map[string]any{"filePath": absPath(path, cwd)})
	}
	if c, err := mapShell("cat "+shellQuote(path), p, cwd); err == nil {
		return c, nil
	}
	return nil, fmt.Errorf("no declared tool can read a file (declared: %s)", declared(p))
}

func mapShell(cmd string, p *parsed, cwd string) (*toolCall, error) {
	withDir := func(args map[string]any) map[string]any {
		if cwd != "" {
			args["workdir"] = cwd
		}
		return args
	}
	if t := p.tool("exec_command"); t != nil {
		return fnCall(t, withDir(map[string]any{"cmd": cmd}))
	}
	if t := p.tool("shell_command"); t != nil {
		return fnCall(t, withDir(map[string]any{"command": cmd}))
	}
	if t := p.tool("Bash"); t != nil {
		return fnCall(t, map[string]any{"command": cmd, "description": "Run the scripted command"})
	}
	if t := p.tool("run_shell_command"); t != nil {
		return fnCall(t, map[string]any{"command": cmd, "description": "Run the scripted command"})
	}
	if t := p.tool("run_command"); t != nil {
		return fnCall(t, map[string]any{"command": cmd})
	}
	if t := p.tool("bash"); t != nil {
		return fnCall(t, map[string]any{"command": cmd, "description": "Run the scripted command"})
	}
	return nil, fmt.Errorf("no declared tool can run a command (declared: %s)", declared(p))
}

func declared(p *parsed) string {
	names := make([]string, 0, len(p.tools))
	for _, t := range p.tools {
		names = append(names, t.name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// addFilePatch is a Codex apply_patch that creates path with content.
func addFilePatch(path, content string) string {
	var b strings.Builder
	b.WriteString("*** Begin Patch\n*** Add File: " + path + "\n")
	for _, l := range splitLines(content) {
		b.WriteString("+" + l + "\n")
	}
	b.WriteString("*** End Patch\n")
	return b.String()
}

// updateFilePatch is a Codex apply_patch that replaces e.Old by e.New.
// apply_patch hunks are whole lines, so the hunk is widened to the lines of
// the file (read from abs) that hold Old; when the file cannot be read or
// does not hold Old, Old and New are taken as whole lines.
func updateFilePatch(e Edit, abs string) string {
	oldLines, newLines := splitLines(e.Old), splitLines(e.New)
	if data, err := os.ReadFile(abs); err == nil {
		s := string(data)
		if i := strings.Index(s, e.Old); i >= 0 {
			oe := i + len(e.Old)
			start, end := strings.LastIndex(s[:i], "\n")+1, oe
			if !strings.HasSuffix(e.Old, "\n") {
				if j := strings.Index(s[oe:], "\n"); j >= 0 {
					end = oe + j
				} else {
					end = len(s)
				}
			}
			oldLines = splitLines(s[start:end])
			newLines = splitLines(s[start:i] + e.New + s[oe:end])
		}
	}
	var b strings.Builder
	b.WriteString("*** Begin Patch\n*** Update File: " + e.Path + "\n@@\n")
	for _, l := range oldLines {
		b.WriteString("-" + l + "\n")
	}
	for _, l := range newLines {
		b.WriteString("+" + l + "\n")
	}
	b.WriteString("*** End Patch\n")
	return b.String()
}

// splitLines splits text into lines without their newlines; a final
// newline does not make an extra empty line.
func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return []string{""}
	}
	return strings.Split(s, "\n")
}
