package demo

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/agentorg/agentorg/modelserver"
	"github.com/agentorg/agentorg/workflow"
)

// CLIs are the agents the demo can run in place of the scripted agent, each
// driven by agentorg's scripted model server: the real coding CLIs, and
// "openai", agentorg's built-in agent on the server's chat-completions API.
var CLIs = []string{"codex", "claude", "gemini", "opencode", BuiltIn}

// BuiltIn names agentorg's own agent, which needs no installation.
const BuiltIn = "openai"

// cliPackages are the npm packages, at the versions the tests pin.
var cliPackages = map[string]string{
	"codex":    "@openai/codex@0.169.0",
	"claude":   "@anthropic-ai/claude-code@2.1.332",
	"gemini":   "@google/gemini-cli@0.61.0",
	"opencode": "opencode-ai@1.18.33",
}

// findCLI looks for a CLI in PATH, then in the .tools/clis folder where
// .ci/install-clis puts the pinned versions, from the working directory up.
func findCLI(name string) (string, error) {
	if !slices.Contains(CLIs, name) {
		return "", fmt.Errorf("demo: unknown agent %q (known: scripted, %s)", name, strings.Join(CLIs, ", "))
	}
	if name == BuiltIn {
		return "", nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return filepath.Abs(p)
	}
	if dir, err := os.Getwd(); err == nil {
		for {
			p := filepath.Join(dir, ".tools", "clis", "node_modules", ".bin", name)
			if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
				return p, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("demo: %s is not installed: npm install -g %s (or, in a clone of agentorg, .ci/install-clis)", name, cliPackages[name])
}

// cliAgent is the workflow agent that runs the named CLI against the model
// server at url. The CLI gets a home of its own under agentHome, so that it
// never reads or writes the user's configuration, sessions or keys.
func cliAgent(name, binary, url, agentHome string) (workflow.AgentOptions, error) {
	env := map[string]string{
		"HOME":            agentHome,
		"XDG_CONFIG_HOME": filepath.Join(agentHome, ".config"),
		"XDG_DATA_HOME":   filepath.Join(agentHome, ".local", "share"),
		"XDG_CACHE_HOME":  filepath.Join(agentHome, ".cache"),
		"XDG_STATE_HOME":  filepath.Join(agentHome, ".local", "state"),
	}
	a := workflow.AgentOptions{Kind: name, Binary: binary, Env: env}
	files := map[string]string{}
	switch name {
	case "codex":
		env["CODEX_HOME"] = filepath.Join(agentHome, ".codex")
		env["OPENAI_API_KEY"] = "scripted"
		a.Model = "gpt-5.5" // a slug from Codex's catalogue, so it declares apply_patch
		a.Args = []string{
			"-c", fmt.Sprintf(`model_providers.scripted={name="scripted",base_url=%q,wire_api="responses",env_key="OPENAI_API_KEY",request_max_retries=0,stream_max_retries=0}`, url+"/v1"),
			"-c", "model_provider=scripted",
			"--disable", "plugins", "-c", "analytics.enabled=false",
		}
	case "claude":
		env["ANTHROPIC_BASE_URL"] = url
		env["ANTHROPIC_API_KEY"] = "scripted"
		env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = "1"
	case "gemini":
		env["GOOGLE_GEMINI_BASE_URL"] = url
		env["GEMINI_API_KEY"] = "scripted"
		env["GEMINI_CLI_TRUST_WORKSPACE"] = "true"
		a.Model = "gemini-2.5-flash" // a fixed model skips the router request
		files[filepath.Join(agentHome, ".gemini", "settings.json")] = `{"security":{"auth":{"selectedType":"gemini-api-key"}}}` + "\n"
	case BuiltIn:
		// No CLI, no home: the built-in agent talks to the server itself
		// and keeps its sessions in agentorg's home.
		return workflow.AgentOptions{Kind: name, BaseURL: url + "/v1", Model: "scripted-model"}, nil
	case "opencode":
		env["OPENCODE_DISABLE_MODELS_FETCH"] = "1"
		env["OPENCODE_DISABLE_AUTOUPDATE"] = "1"
		a.Model = "scripted/scripted-model"
		files[filepath.Join(agentHome, ".config", "opencode", "opencode.json")] = fmt.Sprintf(`{"provider": {"scripted": {"npm": "@ai-sdk/openai-compatible", "name": "Scripted model",
  "options": {"baseURL": %q, "apiKey": "scripted"},
  "models": {"scripted-model": {"name": "Scripted model", "tool_call": true}}}}}
`, url+"/v1")
	default:
		return a, errors.New("demo: no model wiring for " + name)
	}
	for _, d := range []string{".config", ".local/share", ".cache", ".local/state", ".codex"} {
		if err := os.MkdirAll(filepath.Join(agentHome, d), 0o755); err != nil {
			return a, err
		}
	}
	for p, text := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return a, err
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return a, err
		}
	}
	return a, nil
}

// startModel starts the scripted model server that plays the model for a
// real CLI in the demo.
func startModel() *modelserver.Server { return modelserver.New(demoModel) }
