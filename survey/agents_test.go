package survey

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/workflow"
)

// fakePATH makes a directory holding a tiny executable script for each
// name, and a plain (not executable) file for each of notExec.
func fakePATH(t *testing.T, names []string, notExec ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\necho 1.0.0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range notExec {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("not a program\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestInstalled(t *testing.T) {
	a := fakePATH(t, []string{"codex", "aider", "unrelated"}, "gemini")
	b := fakePATH(t, []string{"claude", "codex"})
	got := Installed(a + string(os.PathListSeparator) + "relative/dir" + string(os.PathListSeparator) + b)
	want := []Found{
		{Kind: "claude", Path: filepath.Join(b, "claude")},
		{Kind: "codex", Path: filepath.Join(a, "codex")}, // the first in PATH order
		{Kind: "aider", Path: filepath.Join(a, "aider")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Installed = %+v\nwant        %+v", got, want)
	}
	if got := Installed(t.TempDir()); len(got) != 0 {
		t.Errorf("Installed(empty PATH) = %+v", got)
	}
}

func TestPlanAgents(t *testing.T) {
	bin := fakePATH(t, []string{"claude", "codex"})
	both := Installed(bin)
	codexOnly := Installed(fakePATH(t, []string{"codex"}))
	type want struct {
		agents []string          // names, in order
		roles  map[string]string // role → agent; nil: every role the first agent
		lines  []string          // substrings of the lines, in order
	}
	every := func(name string) map[string]string {
		return map[string]string{"pm": name, "developer": name, "validator": name, "triage": name}
	}
	for _, tc := range []struct {
		name      string
		flags     AgentFlags
		installed []Found
		want      want
	}{
		{"several found: the first in order", AgentFlags{}, both, want{[]string{"claude"}, every("claude"),
			[]string{"claude for every role (found " + filepath.Join(bin, "claude") + "; also on PATH: codex; the first found of claude, codex, gemini, opencode, aider is chosen; another: --agent KIND"}}},
		{"one found", AgentFlags{}, codexOnly, want{[]string{"codex"}, every("codex"), []string{"codex for every role (found "}}},
		{"--agent", AgentFlags{Default: "codex"}, both, want{[]string{"codex"}, every("codex"),
			[]string{"codex for every role (--agent; found " + filepath.Join(bin, "codex") + ")"}}},
		{"--agent not installed", AgentFlags{Default: "gemini"}, both, want{[]string{"gemini"}, every("gemini"),
			[]string{"gemini for every role (--agent; not found on PATH: install it before agentorg serve; agentorg check warns until then)"}}},
		{"per role over --agent", AgentFlags{Default: "codex", Roles: map[string]string{"validator": "claude", "triage": "claude"}}, both,
			want{[]string{"codex", "claude"}, map[string]string{"pm": "codex", "developer": "codex", "validator": "claude", "triage": "claude"},
				[]string{"codex for pm and developer (--agent; found ", "claude for validator and triage (--validator-agent, --triage-agent; found "}}},
		{"per role over what is found", AgentFlags{Roles: map[string]string{"developer": "codex"}}, both,
			want{[]string{"claude", "codex"}, map[string]string{"pm": "claude", "developer": "codex", "validator": "claude", "triage": "claude"},
				[]string{"claude for pm, validator and triage (found ", "codex for developer (--developer-agent; found "}}},
		{"--agent-command", AgentFlags{Command: []string{"my-agent", "--fast"}}, both, want{[]string{"command"}, every("command"),
			[]string{"command for every role (--agent-command; runs my-agent --fast)"}}},
		{"--agent-command for the roles given no other", AgentFlags{Command: []string{"my-agent"}, Roles: map[string]string{"pm": "claude"}}, nil,
			want{[]string{"claude", "command"}, map[string]string{"pm": "claude", "developer": "command", "validator": "command", "triage": "command"},
				[]string{"claude for pm (--pm-agent; not found on PATH", "command for developer, validator and triage (--agent-command; runs my-agent)"}}},
		{"command named for a role", AgentFlags{Default: "claude", Command: []string{"my-agent"}, Roles: map[string]string{"developer": "command"}}, both,
			want{[]string{"claude", "command"}, map[string]string{"pm": "claude", "developer": "command", "validator": "claude", "triage": "claude"}, nil}},
		{"openai", AgentFlags{Default: "openai", OpenAIModel: "qwen2.5-coder:7b"}, nil, want{[]string{"openai"}, every("openai"),
			[]string{"openai for every role (--agent; built in, model qwen2.5-coder:7b at http://127.0.0.1:11434/v1)"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := PlanAgents(tc.flags, tc.installed)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, a := range plan.Agents {
				names = append(names, a.Name)
				if a.Kind != a.Name {
					t.Errorf("agent %q has kind %q: agents are named after their kind", a.Name, a.Kind)
				}
			}
			if !reflect.DeepEqual(names, tc.want.agents) || !reflect.DeepEqual(plan.Roles, tc.want.roles) {
				t.Errorf("agents %v, roles %v; want %v, %v", names, plan.Roles, tc.want.agents, tc.want.roles)
			}
			if tc.want.lines != nil && len(plan.Lines) != len(tc.want.lines) {
				t.Fatalf("lines %q, want %d", plan.Lines, len(tc.want.lines))
			}
			for i, w := range tc.want.lines {
				if !strings.Contains(plan.Lines[i], w) {
					t.Errorf("line %d = %q, want it to contain %q", i, plan.Lines[i], w)
				}
			}
			// What init writes from the plan parses, and each stage names
			// its role's agent.
			wf, err := workflow.Parse("wf.yaml", workflow.Default(workflow.DefaultOptions{
				Approvers: []string{"a"}, Check: "true", E2E: "true", Agents: plan.Agents, RoleAgents: plan.Roles}), nil)
			if err != nil {
				t.Fatalf("the workflow written from the plan does not parse: %v", err)
			}
			for stage, role := range map[string]string{"plan": "pm", "develop": "developer", "validate": "validator", "triage": "triage"} {
				if got := wf.Stage(stage).Agent; got != plan.Roles[role] {
					t.Errorf("stage %s names %q, want %q", stage, got, plan.Roles[role])
				}
			}
		})
	}
}

func TestPlanAgentsRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags AgentFlags
		want  string
	}{
		{"nothing found, nothing named", AgentFlags{},
			"no coding agent CLI found on PATH (looked for claude, codex, gemini, opencode, aider): install one (e.g. npm install -g @anthropic-ai/claude-code), or name one with --agent KIND, or run your own program with --agent-command PROG,ARG... (docs/agent-protocol.md)"},
		{"unknown kind", AgentFlags{Default: "cursor"},
			`--agent "cursor" is not an agent kind: use one of claude, codex, gemini, opencode, aider, openai (the built-in agent), or command (with --agent-command)`},
		{"unknown kind for a role", AgentFlags{Default: "claude", Roles: map[string]string{"triage": "gpt"}}, `--triage-agent "gpt" is not an agent kind`},
		{"command without --agent-command", AgentFlags{Default: "claude", Roles: map[string]string{"pm": "command"}},
			"--pm-agent command needs --agent-command PROG,ARG..."},
		{"--agent-command no role uses", AgentFlags{Default: "claude", Command: []string{"x"}},
			"--agent-command is given but every role has another agent"},
		{"openai without a model", AgentFlags{Default: "openai"}, "the built-in agent (openai) needs --openai-model"},
		{"some roles named, the rest have nothing", AgentFlags{Roles: map[string]string{"pm": "claude"}}, "no coding agent CLI found on PATH"},
	} {
		if _, err := PlanAgents(tc.flags, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}
