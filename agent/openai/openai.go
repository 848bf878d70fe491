// Package openai is a built-in agent that talks to a model through the
// OpenAI-compatible chat-completions API with tool calling (Ollama,
// llama.cpp's server, vLLM, hosted endpoints). The agent itself runs the
// tools, confined to the task's directory: reading and searching for every
// role, writing, editing and allow-listed commands for read-write tasks.
// Conversations are kept in StateDir so that a session can be resumed.
package openai

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/sandbox"
	"github.com/google/uuid"
)

// Defaults and bounds.
const (
	DefaultMaxTurns = 40
	// MaxInvalidCalls is how many malformed tool calls in a row end a run:
	// a model that cannot call the tools will not learn within the run.
	MaxInvalidCalls = 3
	// CommandTimeout bounds one run_command (and the run's own timeout
	// bounds it too).
	CommandTimeout = 10 * time.Minute
	transcriptClip = 2000 // bytes of a tool result shown in the transcript
)

// Config says which model to use and how.
type Config struct {
	// BaseURL is the API root, e.g. "http://127.0.0.1:11434/v1" for
	// Ollama; requests go to BaseURL+"/chat/completions".
	BaseURL string
	Model   string // required
	// APIKeyEnv names the variable in Task.Env that holds the API key; ""
	// sends no Authorization header. agentorg's own environment is never
	// read.
	APIKeyEnv string
	// StateDir holds the sessions (one JSON file each); it must be outside
	// any worktree. Required.
	StateDir string
	MaxTurns int // bound on model requests per run; 0 means DefaultMaxTurns
	// Commands are the programs (bare names, looked up in the task's PATH)
	// that read-write tasks may run with run_command; empty means none.
	Commands     []string
	Timeout      time.Duration // default when Task.Timeout is 0
	StallTimeout time.Duration // per request: silence before giving up; default when Task.StallTimeout is 0
	HTTPClient   *http.Client  // nil means a client with no overall timeout (the run's bounds apply)
}

// Agent runs a model in a tool-calling loop.
type Agent struct {
	cfg        Config
	client     *http.Client
	backoff    func(attempt int) time.Duration // between retries; shorter in tests
	cmdTimeout time.Duration
}

var (
	_ agentorg.Agent  = (*Agent)(nil)
	_ agentorg.Prober = (*Agent)(nil)
)

// New checks c and returns an agent.
func New(c Config) (*Agent, error) {
	c.BaseURL = strings.TrimRight(strings.TrimSpace(c.BaseURL), "/")
	if c.BaseURL == "" {
		return nil, errors.New("openai agent: base_url is required (e.g. http://127.0.0.1:11434/v1 for Ollama)")
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("openai agent: base_url %q is not an http(s) URL with a host", c.BaseURL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("openai agent: base_url must not hold credentials; name the key's variable in api_key_env")
	}
	if strings.TrimSpace(c.Model) == "" {
		return nil, errors.New("openai agent: model is required")
	}
	if c.APIKeyEnv != "" && (strings.ContainsAny(c.APIKeyEnv, "= \t\n") || strings.HasPrefix(c.APIKeyEnv, "$")) {
		return nil, fmt.Errorf("openai agent: api_key_env %q must be the bare name of a variable", c.APIKeyEnv)
	}
	if c.StateDir == "" {
		return nil, errors.New("openai agent: state_dir is required (a directory outside any worktree, for sessions)")
	}
	if !filepath.IsAbs(c.StateDir) {
		return nil, fmt.Errorf("openai agent: state_dir %q must be an absolute path", c.StateDir)
	}
	if c.MaxTurns < 0 {
		return nil, fmt.Errorf("openai agent: max_turns %d is negative", c.MaxTurns)
	}
	if c.MaxTurns == 0 {
		c.MaxTurns = DefaultMaxTurns
	}
	if c.Timeout < 0 || c.StallTimeout < 0 {
		return nil, errors.New("openai agent: timeouts must not be negative")
	}
	c.Commands = append([]string(nil), c.Commands...)
	for i, cmd := range c.Commands {
		if cmd == "" || strings.ContainsAny(cmd, "/ \t\n") {
			return nil, fmt.Errorf("openai agent: commands[%d] %q must be a program name, without a path or arguments", i, cmd)
		}
	}
	client := c.HTTPClient
	if client == nil {
		client = &http.Client{}
	}
	return &Agent{cfg: c, client: client, backoff: defaultBackoff, cmdTimeout: CommandTimeout}, nil
}

// Start begins a new session.
func (a *Agent) Start(ctx context.Context, t agentorg.Task) (agentorg.Result, error) {
	if err := checkTask(t); err != nil {
		return agentorg.Result{}, err
	}
	now := time.Now().UTC()
	s := &session{ID: uuid.NewString(), Model: a.cfg.Model, Created: now,
		Messages: []message{{Role: "system", Content: systemPrompt(t, a.cfg.Commands)}}}
	return a.run(ctx, s, t, false)
}

// Resume continues session with a new prompt, with the whole earlier
// conversation.
func (a *Agent) Resume(ctx context.Context, id string, t agentorg.Task) (agentorg.Result, error) {
	if id == "" {
		return agentorg.Result{}, errors.New("openai agent: resume needs a session id")
	}
	if err := checkTask(t); err != nil {
		return agentorg.Result{}, err
	}
	s, err := a.loadSession(id)
	if err != nil {
		return agentorg.Result{}, err
	}
	// The system prompt follows the task, so that it matches the tools
	// this run declares.
	sys := message{Role: "system", Content: systemPrompt(t, a.cfg.Commands)}
	if s.Messages[0].Role == "system" {
		s.Messages[0] = sys
	} else {
		s.Messages = append([]message{sys}, s.Messages...)
	}
	return a.run(ctx, s, t, true)
}

func checkTask(t agentorg.Task) error {
	if t.Dir == "" {
		return errors.New("openai agent: task has no directory")
	}
	if strings.TrimSpace(t.Prompt) == "" {
		return errors.New("openai agent: task has an empty prompt")
	}
	return nil
}

var errTimeout = errors.New("run timed out")

func (a *Agent) run(ctx context.Context, s *session, t agentorg.Task, resumed bool) (agentorg.Result, error) {
	root, err := filepath.Abs(t.Dir)
	if err == nil {
		root, err = filepath.EvalSymlinks(root)
	}
	if err != nil {
		return agentorg.Result{}, fmt.Errorf("openai agent: task directory: %w", err)
	}
	if info, err := os.Stat(root); err != nil || !info.IsDir() {
		return agentorg.Result{}, fmt.Errorf("openai agent: task directory %s is not a directory", t.Dir)
	}
	access := t.Access
	if access == "" {
		access = agentorg.ReadOnly
	}
	timeout := t.Timeout
	if timeout == 0 {
		timeout = a.cfg.Timeout
	}
	stall := t.StallTimeout
	if stall == 0 {
		stall = a.cfg.StallTimeout
	}
	apiKey := ""
	if a.cfg.APIKeyEnv != "" {
		apiKey = getenv(t.Env, a.cfg.APIKeyEnv)
		if apiKey == "" {
			return agentorg.Result{}, fmt.Errorf("openai agent: %s is not set in the task's environment", a.cfg.APIKeyEnv)
		}
	}

	runCtx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeoutCause(ctx, timeout, errTimeout)
		defer cancel()
	}
	cmdTimeout := a.cmdTimeout
	if timeout > 0 {
		cmdTimeout = min(cmdTimeout, timeout)
	}
	tb := &toolbox{root: root, dir: t.Dir, write: access == agentorg.ReadWrite, env: t.Env,
		cmdTimeout: cmdTimeout, started: t.OnStart}
	if tb.write {
		tb.commands = a.cfg.Commands
	}
	if t.Confine != nil {
		// The file tools run here, held to the task's directory by
		// toolbox.resolve; the commands run confined by the kernel.
		p := sandbox.Policy(*t.Confine)
		tb.confine = &p
	}
	tr := transcript{w: t.Transcript}

	s.Runs++
	s.Messages = append(s.Messages, message{Role: "user", Content: t.Prompt})
	out := agentorg.Result{SessionID: s.ID}
	if err := a.save(s); err != nil {
		return out, err
	}
	verb := "start"
	if resumed {
		verb = "resume"
	}
	tr.printf("=== openai agent: %s session %s, model %s, role %s, %s, in %s\n", verb, s.ID, a.cfg.Model, t.Role, access, t.Dir)

	// fail turns an error into the run's error: cancellation by the
	// caller stays a plain error, the run's own timeout is the agent's.
	fail := func(err error) (agentorg.Result, error) {
		switch {
		case ctx.Err() != nil:
			err = fmt.Errorf("openai agent: cancelled: %w", context.Cause(ctx))
		case errors.Is(context.Cause(runCtx), errTimeout):
			err = fmt.Errorf("%w: timed out after %s", agentorg.ErrAgent, timeout)
		}
		tr.printf("=== failed: %v\n", err)
		return out, err
	}

	invalid := 0
	defs := tb.defs()
	for turn := 1; ; turn++ {
		if turn > a.cfg.MaxTurns {
			return fail(fmt.Errorf("%w: did not finish within %d turns", agentorg.ErrAgent, a.cfg.MaxTurns))
		}
		if runCtx.Err() != nil {
			return fail(runCtx.Err())
		}
		tr.printf("--- turn %d\n", turn)
		req := chatRequest{Model: a.cfg.Model, Messages: s.Messages, Tools: defs, Stream: false}
		if len(defs) > 0 {
			req.ToolChoice = "auto"
		}
		r, err := a.post(runCtx, req, apiKey, stall)
		if err != nil {
			return fail(err)
		}
		out.Usage = out.Usage.Add(r.usage)
		s.Usage = s.Usage.Add(r.usage)
		s.Messages = append(s.Messages, r.msg)
		if r.msg.Content != "" {
			tr.printf("assistant: %s\n", strings.TrimRight(r.msg.Content, "\n"))
		}

		if len(r.msg.ToolCalls) == 0 {
			if err := a.save(s); err != nil {
				return out, err
			}
			out.Summary = r.msg.Content
			tr.printf("=== done after %d turns (finish_reason %q), usage: %d input (%d cached), %d output tokens\n",
				turn, r.finishReason, out.Usage.InputTokens, out.Usage.CachedTokens, out.Usage.OutputTokens)
			switch r.finishReason {
			case "length":
				return out, fmt.Errorf("%w: the model's reply was cut off at its output limit (finish_reason length)", agentorg.ErrAgent)
			case "content_filter":
				return out, fmt.Errorf("%w: the model's reply was withheld by a content filter", agentorg.ErrAgent)
			}
			return out, nil
		}

		var lastInvalid string
		for _, c := range r.msg.ToolCalls {
			tr.printf("> %s %s\n", c.Function.Name, clip(c.Function.Arguments, transcriptClip))
			result, bad := tb.call(runCtx, c.Function)
			if bad {
				invalid++
				lastInvalid = result
			} else {
				invalid = 0
			}
			s.Messages = append(s.Messages, message{Role: "tool", ToolCallID: c.ID, Content: result})
			tr.printf("< %s\n", indent(strings.TrimRight(clip(result, transcriptClip), "\n")))
		}
		if err := a.save(s); err != nil {
			return out, err
		}
		if invalid >= MaxInvalidCalls {
			return fail(fmt.Errorf("%w: %d invalid tool calls in a row; the last: %s", agentorg.ErrAgent, invalid, clip(lastInvalid, 300)))
		}
	}
}

// systemPrompt tells the model its role, where it works and what it may do.
func systemPrompt(t agentorg.Task, commands []string) string {
	var b strings.Builder
	role := t.Role
	if role == "" {
		role = "agent"
	}
	fmt.Fprintf(&b, "You are the %s agent of agentorg, an automated software engineering organization. ", role)
	switch t.Role {
	case agentorg.RolePM:
		b.WriteString("You plan the work on an issue: your final message is the plan.\n")
	case agentorg.RoleDeveloper:
		b.WriteString("You implement the change the task asks for, in the files of the working directory.\n")
	case agentorg.RoleValidator:
		b.WriteString("You judge whether the work meets the acceptance criteria: your final message is the verdict and the evidence for it.\n")
	default:
		b.WriteString("Do what the task asks.\n")
	}
	fmt.Fprintf(&b, "\nWorking directory: %s\n"+
		"You work in that directory through the tools you are given. "+
		"Every path you give a tool is relative to it. Absolute paths, paths that leave it "+
		"(.. or symbolic links pointing outside) and the .git directory are refused.\n", t.Dir)
	if t.Access == agentorg.ReadWrite {
		b.WriteString("You may change files: write_file creates or replaces a file, edit_file replaces text that occurs exactly once. ")
		if len(commands) > 0 {
			fmt.Fprintf(&b, "run_command runs one of these programs without a shell: %s. ", strings.Join(commands, ", "))
		} else {
			b.WriteString("You cannot run commands. ")
		}
		b.WriteString("Do not commit: your changes are collected for you.\n")
	} else {
		b.WriteString("You have read-only access: you can list, read and search files, but you cannot change any file or run any command. Do not claim to have changed anything.\n")
	}
	b.WriteString("\nWhen you are done, answer with a final message and no tool call. That message is your report: say what you did and what you found, plainly.\n")
	return b.String()
}

// transcript writes the readable log of a run; a nil writer discards.
type transcript struct{ w io.Writer }

func (t transcript) printf(format string, args ...any) {
	if t.w != nil {
		fmt.Fprintf(t.w, format, args...)
	}
}

func indent(s string) string {
	return strings.ReplaceAll(s, "\n", "\n  ")
}
