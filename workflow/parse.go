package workflow

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/agentorg/agentorg/hygiene"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Keys each part of the file accepts; anything else is reported.
var (
	topKeys      = []string{"version", "opt_in", "escalation", "confinement", "tracker", "repo", "budget", "parallel", "labels", "agents", "stages", "gates", "checks", "e2e", "hygiene", "prompts", "discord", "release", "environments"}
	trackerKeys  = []string{"kind", "bot", "gitlab"}
	gitlabKeys   = []string{"url", "project", "token"}
	repoKeys     = []string{"url", "target_branch", "branch_prefix", "update"}
	budgetKeys   = []string{"attempts", "stall_attempts", "wall_time", "tokens", "cost_usd", "review_rounds"}
	hygieneKeys  = []string{"allow", "deny", "max_diff_lines", "max_diff_bytes", "max_file_bytes", "max_files", "symlinks", "modes", "junk", "junk_refused"}
	labelKeys    = []string{"name", "color", "description"}
	agentKeys    = []string{"kind", "command", "binary", "model", "args", "env", "timeout", "stall_timeout", "max_turns", "base_url", "api_key_env", "commands", "price", "writable"}
	priceKeys    = []string{"input", "cached_input", "output"}
	stageKeys    = []string{"role", "agent", "on", "running", "success", "failure", "timeout", "concurrency", "auto_merge"}
	gateKeys     = []string{"waits", "approve", "reject", "approvers", "min_access_level", "merge_request", "changes_requested", "reviewers", "auto_approve"}
	checkKeys    = []string{"name", "run", "timeout"}
	e2eKeys      = []string{"run", "timeout", "recovery"}
	parallelKeys = []string{"predict", "by_package", "overlap"}
)

// Keys of a merge request gate's auto_approve, its rules and their conditions.
var (
	autoApproveKeys = []string{"grace", "max_per_day", "rules"}
	ruleKeys        = []string{"name", "all", "any"}
	conditionKeys   = []string{"all", "any", "paths", "no_paths", "max_lines", "max_files", "criteria_by_command", "first_attempt", "no_open_threads", "revert"}
)

// Tracker and agent kinds this version understands.
const (
	TrackerEmbedded = "embedded"
	TrackerGitLab   = "gitlab"
	AgentCommand    = "command"
	AgentCodex      = "codex"
	AgentClaude     = "claude"
	AgentGemini     = "gemini"
	AgentOpenCode   = "opencode"
	AgentAider      = "aider"
	AgentOpenAI     = "openai"
)

// AgentKinds lists the agent kinds this version can drive.
var AgentKinds = []string{AgentCommand, AgentCodex, AgentClaude, AgentGemini, AgentOpenCode, AgentAider, AgentOpenAI}

// agentKeyKinds says which kinds accept a kind-specific key; keys not listed
// apply to every kind.
var agentKeyKinds = map[string][]string{
	"command":     {AgentCommand},
	"binary":      {AgentCodex, AgentClaude, AgentGemini, AgentOpenCode, AgentAider},
	"model":       {AgentCodex, AgentClaude, AgentGemini, AgentOpenCode, AgentAider, AgentOpenAI},
	"args":        {AgentCodex, AgentClaude, AgentGemini, AgentOpenCode, AgentAider},
	"max_turns":   {AgentClaude, AgentOpenAI},
	"base_url":    {AgentOpenAI},
	"api_key_env": {AgentOpenAI},
	"commands":    {AgentOpenAI},
}

// Prompt names.
const (
	PromptPM        = "pm"
	PromptDeveloper = "developer"
	PromptFix       = "fix"
	PromptValidate  = "validate"
	// PromptTriage is the triage agent's task: classify review threads.
	PromptTriage = "triage"
	// PromptReview is the developer's follow-up in the same session after
	// triage: the review threads to fix.
	PromptReview = "review"
)

var promptNames = []string{PromptPM, PromptDeveloper, PromptFix, PromptValidate, PromptTriage, PromptReview}

// Ways to bring a moved target branch into an issue's branch.
const ()

var (
	colorRE   = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
	envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	envPathRE = regexp.MustCompile(`^\$[A-Za-z_][A-Za-z0-9_]*(/|$)`)
	envRefRE  = regexp.MustCompile(`^\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\})$`)
	// An unquoted "#5843ad" is a YAML comment, which leaves color empty.
	commentedColorRE = regexp.MustCompile(`(?:^|[\s{,])color:\s+#`)
)

// Load reads the workflow file at path and parses it, resolving $NAME
// references from the process environment.
func Load(path string) (*Workflow, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, os.LookupEnv)
}

// Parse reads a workflow from data; file names it in problems. String values
// of tracker.gitlab.* (when the tracker kind is gitlab) and agents.*.env that
// are exactly $NAME or ${NAME} are replaced by lookupEnv(NAME) (nil means
// os.LookupEnv). Defaults are applied to everything left out.
//
// On any problem Parse returns a nil workflow and a Problems error holding
// every problem found, sorted by position.
//
// An agent's env naming a variable that is not set is no problem but a
// warning (Workflow.Warnings, Agent.MissingEnv): it stops only that agent's
// runs, so that one unset key never stops the commands that need no agent.
func Parse(file string, data []byte, lookupEnv func(string) (string, bool)) (*Workflow, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	if msg := outOfBounds(data); msg != "" {
		return nil, Problems{{File: file, Message: msg}}
	}
	d := newDecoder(file, data, lookupEnv)
	w := d.decode(data)
	if w != nil {
		w.Path = file
		d.validate(w)
		if !d.parallelSet {
			w.Parallel.Predict = true
		}
		applyDefaults(w)
	}
	if len(d.problems) > 0 {
		return nil, d.problems.sortAndDedup()
	}
	w.Warnings = d.warnings.sortAndDedup()
	return w, nil
}

func (d *decoder) decode(data []byte) *Workflow {
	f, err := parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		d.syntaxError(err)
		return nil
	}
	var bodies []ast.Node
	for _, doc := range f.Docs {
		if doc != nil && doc.Body != nil {
			bodies = append(bodies, doc.Body)
		}
	}
	if len(bodies) == 0 {
		d.errorf(Position{}, "the workflow file is empty")
		return nil
	}
	for _, b := range bodies[1:] {
		d.errorf(nodePos(b), "a workflow file holds a single YAML document; this is a second one")
	}
	for _, b := range bodies {
		d.collectAnchors(b)
	}
	root := value{node: d.resolve(bodies[0]), pos: nodePos(bodies[0])}
	if root.node == nil {
		d.errorf(root.pos, "the workflow file is empty")
		return nil
	}
	w := &Workflow{Prompts: map[string]string{}}
	d.object(root, "", root.pos, topKeys, []string{"version", "opt_in", "escalation"}, func(e entry) {
		switch e.key {
		case "version":
			if v, ok := d.integer(e.v); ok {
				w.Version = v
				if v != 1 {
					d.errorf(e.v.pos, "unsupported version %d: this agentorg reads version 1", v)
				}
			}
		case "opt_in":
			w.OptIn = d.str(e.v)
		case "escalation":
			w.Escalation = d.str(e.v)
		case "confinement":
			w.Confinement = d.str(e.v)
			if w.Confinement != ConfinementRequired && w.Confinement != ConfinementOff {
				d.errorf(e.v.pos, "confinement must be required or off, not %q%s", w.Confinement, suggest(w.Confinement, []string{ConfinementRequired, ConfinementOff}))
			}
		case "tracker":
			d.tracker(e, &w.Tracker)
		case "repo":
			d.object(e.v, "repo", e.keyPos, repoKeys, nil, func(f entry) {
				switch f.key {
				case "url":
					w.Repo.URL = d.str(f.v)
				case "target_branch":
					w.Repo.TargetBranch = d.branchPart(f.v)
				case "branch_prefix":
					w.Repo.BranchPrefix = d.branchPart(f.v)
				case "update":
					// Kept readable for workflows written before: a GO now
					// pushes one commit of the validated tree on top of the
					// target, however the target moved (workspace.Squash).
					d.warnf(f.v.pos, "repo.update no longer changes anything: agentorg pushes one commit of the validated change on top of the target branch, whatever it does next; remove the key")
				}
			})
		case "budget":
			d.budget(e, &w.Budget)
		case "hygiene":
			d.hygiene(e, &w.Hygiene)
		case "labels":
			w.Labels = d.labels(e.v)
		case "agents":
			w.Agents = d.agents(e.v)
		case "stages":
			w.Stages = d.stages(e.v)
		case "gates":
			w.Gates = d.gates(e.v)
		case "checks":
			w.Checks = d.checks(e.v)
		case "parallel":
			d.object(e.v, "parallel", e.keyPos, parallelKeys, nil, func(f entry) {
				switch f.key {
				case "predict":
					w.Parallel.Predict = d.boolean(f.v)
					d.parallelSet = true
				case "by_package":
					w.Parallel.ByPackage = d.boolean(f.v)
				case "overlap":
					w.Parallel.Overlap = d.str(f.v)
					if known := []string{OverlapWarn, OverlapPause}; !contains(known, w.Parallel.Overlap) {
						d.errorf(f.v.pos, "parallel.overlap must be %s, not %q%s", strings.Join(known, " or "), w.Parallel.Overlap, suggest(w.Parallel.Overlap, known))
					}
				}
			})
		case "e2e":
			d.object(e.v, "e2e", e.keyPos, e2eKeys, nil, func(f entry) {
				switch f.key {
				case "run":
					w.E2E.Run = d.str(f.v)
				case "timeout":
					w.E2E.Timeout = d.duration(f.v)
				case "recovery":
					w.E2E.Recovery = d.str(f.v)
					if known := []string{RecoveryRevert, RecoveryClose, RecoveryOff}; !contains(known, w.E2E.Recovery) {
						d.errorf(f.v.pos, "e2e.recovery must be %s, not %q%s", strings.Join(known, ", "), w.E2E.Recovery, suggest(w.E2E.Recovery, known))
					}
				}
			})
		case "prompts":
			d.promptMap(e.v, w.Prompts)
		case "discord":
			d.discord(e, &w.Discord)
		case "release":
			w.Release = d.release(e)
		case "environments":
			w.Environments = d.environments(e)
		}
	})
	return w
}

// tracker reads the tracker section. GitLab settings are resolved from the
// environment only when the gitlab kind is in use, so that a repository can
// keep them while running on the embedded tracker without the token set.
func (d *decoder) tracker(e entry, t *Tracker) {
	var gitlab *entry
	d.object(e.v, "tracker", e.keyPos, trackerKeys, nil, func(f entry) {
		switch f.key {
		case "kind":
			t.Kind = d.str(f.v)
			if t.Kind != "" && t.Kind != TrackerEmbedded && t.Kind != TrackerGitLab {
				d.errorf(f.v.pos, "unknown tracker kind %q (known: embedded, gitlab)%s", t.Kind, suggest(t.Kind, []string{TrackerEmbedded, TrackerGitLab}))
			}
		case "bot":
			t.Bot = d.str(f.v)
		case "gitlab":
			g := f
			gitlab = &g
		}
	})
	use := t.Kind == TrackerGitLab
	if gitlab == nil {
		if use {
			d.errorf(d.valPos[at("tracker", "kind")], "tracker kind gitlab needs a tracker.gitlab section with url, project and token")
		}
		return
	}
	var required []string
	if use {
		required = gitlabKeys
	}
	gitlab.v.desc = "tracker.gitlab"
	d.object(gitlab.v, "tracker.gitlab", gitlab.keyPos, gitlabKeys, required, func(f entry) {
		s := d.str(f.v)
		if use && f.key == "token" && s != "" && !envRefRE.MatchString(s) {
			// A token written in a repository file is a leaked token.
			d.errorf(f.v.pos, "tracker.gitlab.token must name an environment variable ($GITLAB_TOKEN), never hold the token itself")
			return
		}
		if use {
			// Nothing works without the tracker: unset is an error here.
			val, name, set := d.expand(s)
			switch {
			case !set:
				d.errorf(f.v.pos, "%s", unsetMessage(name, f.v.desc))
			case val == "" && !isEmpty(f.v.node):
				d.errorf(f.v.pos, "%s is empty", f.v.desc)
			}
			s = val
		}
		switch f.key {
		case "url":
			t.GitLab.URL = s
		case "project":
			t.GitLab.Project = s
		case "token":
			t.GitLab.Token = s
		}
	})
}

// expand replaces a value that is exactly $NAME or ${NAME} with the
// variable's value. Only whole values are references: a "$" inside a longer
// string is kept as written. set is false when the variable named is not
// set; the caller decides whether that is an error.
func (d *decoder) expand(s string) (val, name string, set bool) {
	m := envRefRE.FindStringSubmatch(s)
	if m == nil {
		return s, "", true
	}
	name = m[1] + m[2]
	val, set = d.lookupEnv(name)
	return val, name, set
}

func unsetMessage(name, desc string) string {
	return fmt.Sprintf("environment variable %s is not set (%s refers to it)", name, desc)
}

// branchPart reads a branch name or prefix, rejecting what git refuses in a
// ref so the mistake shows now, not at the first push.
func (d *decoder) branchPart(v value) string {
	s := d.str(v)
	if strings.ContainsAny(s, " \t~^:?*[\\") || strings.Contains(s, "..") || strings.Contains(s, "@{") {
		d.errorf(v.pos, "%s %q is not a valid git branch name", v.desc, s)
	}
	return s
}

// itemName finds the name of a list item before it is read, to name the
// item in messages.
func (d *decoder) itemName(it value, kind string, i int) string {
	if m, ok := it.node.(*ast.MappingNode); ok {
		for _, mv := range m.Values {
			if k, ok := d.resolve(mv.Key).(*ast.StringNode); ok && k.Value == "name" {
				if n, ok := d.resolve(mv.Value).(*ast.StringNode); ok && n.Value != "" {
					return fmt.Sprintf("%s %q", kind, n.Value)
				}
			}
		}
	}
	return fmt.Sprintf("%s #%d", kind, i+1)
}

func (d *decoder) labels(v value) []Label {
	its, _ := d.items(v)
	out := make([]Label, len(its))
	for i, it := range its {
		it.desc = d.itemName(it, "label", i)
		p := at("labels", strconv.Itoa(i))
		l := &out[i]
		d.object(it, p, it.pos, labelKeys, []string{"name"}, func(f entry) {
			switch f.key {
			case "name":
				l.Name = d.str(f.v)
				if l.Name != strings.TrimSpace(l.Name) || strings.ContainsAny(l.Name, ",\n") {
					d.errorf(f.v.pos, "label name %q must not contain commas, line breaks or surrounding spaces", l.Name)
				}
			case "color":
				l.Color = d.str(f.v)
				switch {
				case f.v.node == nil && commentedColorRE.MatchString(d.line(f.keyPos.Line)):
					d.errorf(f.v.pos, "%s is empty: an unquoted # starts a YAML comment; quote the colour, as in color: \"#5843ad\"", f.v.desc)
				case l.Color != "" && !colorRE.MatchString(l.Color):
					d.errorf(f.v.pos, "%s must be a colour like \"#5843ad\", not %q", f.v.desc, l.Color)
				}
			case "description":
				l.Description = d.str(f.v)
			}
		})
	}
	return out
}

func (d *decoder) line(n int) string {
	if n < 1 || n > len(d.lines) {
		return ""
	}
	return d.lines[n-1]
}

// named reads a mapping of name -> object, keeping file order.
func (d *decoder) named(v value, kind string, fn func(name string, e entry)) {
	entries, _ := d.mapping(v)
	for _, e := range entries {
		e.v.desc = fmt.Sprintf("%s %q", kind, e.key)
		fn(e.key, e)
	}
}

func (d *decoder) agents(v value) []Agent {
	var out []Agent
	d.named(v, "agent", func(name string, e entry) {
		a := Agent{Name: name}
		p := at("agents", name)
		hasCommand := false
		keyPos := map[string]Position{}
		var unset []unsetVar
		d.object(e.v, p, e.keyPos, agentKeys, []string{"kind"}, func(f entry) {
			keyPos[f.key] = f.keyPos
			switch f.key {
			case "kind":
				a.Kind = d.str(f.v)
				if a.Kind != "" && !contains(AgentKinds, a.Kind) {
					d.errorf(f.v.pos, "unknown kind %q for agent %q (known: %s)%s", a.Kind, name, strings.Join(AgentKinds, ", "), suggest(a.Kind, AgentKinds))
				}
			case "command":
				hasCommand = true
				a.Command = d.argv(f.v, "a list like [\"my-agent\", \"--flag\"]")
			case "binary":
				a.Binary = d.str(f.v)
			case "model":
				a.Model = d.str(f.v)
			case "args":
				a.Args = d.strs(f.v)
			case "env":
				a.Env, unset = d.env(f.v, name)
			case "timeout":
				a.Timeout = d.duration(f.v)
			case "stall_timeout":
				a.StallTimeout = d.duration(f.v)
			case "max_turns":
				if n, ok := d.positive(f.v); ok {
					a.MaxTurns = n
				}
			case "base_url":
				a.BaseURL = d.str(f.v)
				if u, err := url.Parse(a.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					d.errorf(f.v.pos, "%s must be an http or https URL such as http://127.0.0.1:11434/v1, not %q", f.v.desc, a.BaseURL)
				}
			case "api_key_env":
				a.APIKeyEnv = d.str(f.v)
				if !envNameRE.MatchString(a.APIKeyEnv) {
					d.errorf(f.v.pos, "%s must name an environment variable (passed to the agent through env), not %q", f.v.desc, a.APIKeyEnv)
				}
			case "commands":
				a.Commands = d.strs(f.v)
			case "price":
				a.Price = d.price(f.v, at(p, "price"), f.keyPos)
			case "writable":
				a.Writable = d.writable(f.v)
			}
		})
		if !contains(AgentKinds, a.Kind) {
			out = append(out, a) // already reported
			return
		}
		for key, pos := range keyPos {
			if kinds, limited := agentKeyKinds[key]; limited && !contains(kinds, a.Kind) {
				d.errorf(pos, "%s is not used by agents of kind %s (only by %s)", key, a.Kind, strings.Join(kinds, ", "))
			}
		}
		switch {
		case a.Kind == AgentCommand && !hasCommand:
			d.errorf(e.keyPos, "agent %q of kind command needs command: the program and its arguments, as a list", name)
		case a.Kind == AgentOpenAI && a.BaseURL == "":
			d.errorf(e.keyPos, "agent %q of kind openai needs base_url: the OpenAI-compatible endpoint, such as http://127.0.0.1:11434/v1 for Ollama", name)
		case a.Kind == AgentOpenAI && a.Model == "":
			d.errorf(e.keyPos, "agent %q of kind openai needs model: the model name the endpoint serves", name)
		}
		for _, u := range unset {
			if !contains(a.MissingEnv, u.name) {
				a.MissingEnv = append(a.MissingEnv, u.name)
			}
		}
		if a.APIKeyEnv != "" {
			_, passed := a.Env[a.APIKeyEnv]
			passed = passed || slices.ContainsFunc(unset, func(u unsetVar) bool { return u.key == a.APIKeyEnv })
			if !passed {
				d.errorf(keyPos["api_key_env"], "api_key_env names %s, which env does not pass to the agent: add it under env (e.g. %s: $%s)", a.APIKeyEnv, a.APIKeyEnv, a.APIKeyEnv)
			}
		}
		out = append(out, a)
	})
	return out
}

// strs reads a list of strings.
func (d *decoder) strs(v value) []string {
	its, _ := d.items(v)
	var out []string
	for _, it := range its {
		out = append(out, d.str(it))
	}
	return out
}

// writable reads an agent's writable paths: each absolute, under ~/ or
// under a $VARIABLE, since the agent's own directory is not known here.
func (d *decoder) writable(v value) []string {
	its, _ := d.items(v)
	var out []string
	for _, it := range its {
		s := d.str(it)
		if !strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "~/") && !envPathRE.MatchString(s) {
			d.errorf(it.pos, "%s: %q must be an absolute path, a path under ~/ or under a $VARIABLE", v.desc, s)
			continue
		}
		out = append(out, s)
	}
	return out
}

// argv reads a non-empty list of strings naming a program and its arguments.
func (d *decoder) argv(v value, example string) []string {
	if _, ok := d.items(v); !ok {
		return nil
	}
	out := d.strs(v)
	if len(out) == 0 || out[0] == "" {
		d.errorf(v.pos, "%s must name a program: %s", v.desc, example)
	}
	return out
}

// users reads a gate's list of user names; each position is kept under
// path.i so that later checks can point at the name.
func (d *decoder) users(v value, path, what, gate string) []string {
	its, _ := d.items(v)
	var out []string
	for _, it := range its {
		name := d.str(it)
		if strings.TrimSpace(name) == "" {
			d.errorf(it.pos, "empty %s name in gate %q", what, gate)
			continue
		}
		d.valPos[at(path, strconv.Itoa(len(out)))] = it.pos
		out = append(out, name)
	}
	return out
}

// price reads USD per million tokens, for agents whose tool reports tokens
// but no cost.
func (d *decoder) price(v value, path string, keyPos Position) Price {
	var pr Price
	d.object(v, path, keyPos, priceKeys, nil, func(f entry) {
		x, ok := d.number(f.v)
		if !ok {
			return
		}
		if x < 0 {
			d.errorf(f.v.pos, "%s must not be negative", f.v.desc)
		}
		switch f.key {
		case "input":
			pr.Input = x
		case "cached_input":
			pr.CachedInput = x
		case "output":
			pr.Output = x
		}
	})
	return pr
}

// unsetVar is an env entry whose $NAME is not set.
type unsetVar struct{ key, name string }

// env reads an agent's env. An entry naming a variable that is not set is
// left out of env and returned in unset, with a warning: the agent cannot
// run, but nothing else is stopped by it.
func (d *decoder) env(v value, agent string) (env map[string]string, unset []unsetVar) {
	entries, _ := d.mapping(v)
	env = make(map[string]string, len(entries))
	for _, e := range entries {
		if !envNameRE.MatchString(e.key) {
			d.errorf(e.keyPos, "%q is not a valid environment variable name", e.key)
		}
		val, name, set := d.expand(d.str(e.v))
		if !set {
			d.warnf(e.v.pos, "%s: agent %q cannot run until it is set", unsetMessage(name, e.v.desc), agent)
			unset = append(unset, unsetVar{key: e.key, name: name})
			continue
		}
		env[e.key] = val
	}
	return env, unset
}

func (d *decoder) stages(v value) []Stage {
	var out []Stage
	d.named(v, "stage", func(name string, e entry) {
		s := Stage{Name: name}
		p := at("stages", name)
		d.keyPos[p] = e.keyPos
		d.object(e.v, p, e.keyPos, stageKeys, []string{"role", "on", "success"}, func(f entry) {
			switch f.key {
			case "role":
				s.Role = d.str(f.v)
			case "agent":
				s.Agent = d.str(f.v)
			case "on":
				s.On = d.str(f.v)
			case "running":
				s.Running = d.str(f.v)
			case "success":
				s.Success = d.str(f.v)
			case "failure":
				s.Failure = d.str(f.v)
			case "timeout":
				s.Timeout = d.duration(f.v)
			case "auto_merge":
				s.AutoMerge = d.boolean(f.v)
			case "concurrency":
				if c, ok := d.positive(f.v); ok {
					s.Concurrency = c
				}
			}
		})
		out = append(out, s)
	})
	return out
}

func (d *decoder) gates(v value) []Gate {
	var out []Gate
	d.named(v, "gate", func(name string, e entry) {
		g := Gate{Name: name}
		p := at("gates", name)
		d.keyPos[p] = e.keyPos
		d.object(e.v, p, e.keyPos, gateKeys, []string{"waits", "approve"}, func(f entry) {
			switch f.key {
			case "waits":
				g.Waits = d.str(f.v)
			case "approve":
				g.Approve = d.str(f.v)
			case "reject":
				g.Reject = d.str(f.v)
			case "merge_request":
				g.MergeRequest = d.boolean(f.v)
			case "min_access_level":
				g.MinAccessLevel = d.accessLevel(f.v)
			case "changes_requested":
				g.ChangesRequested = d.str(f.v)
			case "reviewers":
				g.Reviewers = d.users(f.v, at(p, "reviewers"), "reviewer", g.Name)
			case "approvers":
				g.Approvers = d.users(f.v, at(p, "approvers"), "approver", g.Name)
			case "auto_approve":
				g.AutoApprove = d.autoApprove(f, at(p, "auto_approve"))
			}
		})
		out = append(out, g)
	})
	return out
}

// ruleNameRE is what an automatic approval rule may be called: it is
// recorded as the approver "policy:<name>".
var ruleNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// positive reads an integer that must be at least 1 (a count, a limit),
// saying so at its position otherwise.
func (d *decoder) positive(v value) (int, bool) {
	n, ok := d.integer(v)
	if ok && n < 1 {
		d.errorf(v.pos, "%s must be at least 1, not %d", v.desc, n)
	}
	return n, ok
}

// autoApprove reads a gate's auto_approve. Grace and max_per_day get their
// defaults here, so that a grace written as "0s" stays 0.
func (d *decoder) autoApprove(e entry, path string) *AutoApprove {
	a := &AutoApprove{Grace: DefaultGrace, MaxPerDay: DefaultMaxPerDay}
	d.object(e.v, path, e.keyPos, autoApproveKeys, []string{"rules"}, func(f entry) {
		switch f.key {
		case "grace":
			a.Grace = d.grace(f.v)
		case "max_per_day":
			if n, ok := d.positive(f.v); ok {
				a.MaxPerDay = n
			}
		case "rules":
			a.Rules = d.approveRules(f.v, at(path, "rules"))
		}
	})
	return a
}

// grace reads a duration that may be zero ("0s": no time for a veto).
func (d *decoder) grace(v value) time.Duration {
	if s, ok := v.node.(*ast.StringNode); ok {
		if dur, err := time.ParseDuration(s.Value); err == nil && dur <= 0 {
			if dur < 0 {
				d.errorf(v.pos, "%s must not be negative, not %q", v.desc, s.Value)
			}
			return 0
		}
	}
	return d.duration(v)
}

// approveRules reads the rules of auto_approve: each named, unique, with
// exactly one of all and any.
func (d *decoder) approveRules(v value, path string) []ApproveRule {
	its, ok := d.items(v)
	if ok && len(its) == 0 {
		d.errorf(v.pos, "%s is empty: list at least one rule, or remove auto_approve", v.desc)
	}
	first := map[string]int{}
	var out []ApproveRule
	for i, it := range its {
		it.desc = d.itemName(it, "rule", i)
		var r ApproveRule
		var lists []entry
		d.object(it, at(path, strconv.Itoa(i)), it.pos, ruleKeys, []string{"name"}, func(f entry) {
			switch f.key {
			case "name":
				if r.Name = d.uniqueName(f.v, "rule name", "like docs-only (it is recorded as the approver policy:<name>)", ruleNameRE, first); r.Name == "" {
					return
				}
			case "all":
				lists = append(lists, f)
				r.Cond.All = d.conditions(f.v, at(path, strconv.Itoa(i), "all"))
			case "any":
				lists = append(lists, f)
				r.Cond.Any = d.conditions(f.v, at(path, strconv.Itoa(i), "any"))
			}
		})
		if _, isMap := it.node.(*ast.MappingNode); isMap || it.node == nil {
			switch len(lists) {
			case 0:
				d.errorf(it.pos, "%s needs all or any: the list of conditions a change must meet", it.desc)
			case 2:
				d.errorf(lists[1].keyPos, "%s has both all and any: keep one, and nest the other inside it", it.desc)
			}
		}
		out = append(out, r)
	}
	return out
}

// conditions reads a non-empty list of conditions (the value of all or
// any).
func (d *decoder) conditions(v value, path string) []Condition {
	its, ok := d.items(v)
	if !ok {
		return nil
	}
	if len(its) == 0 {
		d.errorf(v.pos, "%s is empty: list at least one condition", v.desc)
		return nil
	}
	out := make([]Condition, len(its))
	for i, it := range its {
		it.desc = fmt.Sprintf("condition %d of %s", i+1, v.desc)
		out[i] = d.condition(it, at(path, strconv.Itoa(i)))
	}
	return out
}

// condition reads one condition: a mapping of exactly one key, a leaf or a
// nested all or any.
func (d *decoder) condition(v value, path string) Condition {
	var c Condition
	var keys []string
	ok := d.object(v, path, v.pos, conditionKeys, nil, func(f entry) {
		keys = append(keys, f.key)
		switch f.key {
		case "all":
			c.All = d.conditions(f.v, at(path, f.key))
		case "any":
			c.Any = d.conditions(f.v, at(path, f.key))
		case "paths", "no_paths":
			globs := d.ruleGlobs(f.v)
			if f.key == "paths" {
				c.Paths = globs
			} else {
				c.NoPaths = globs
			}
		case "max_lines", "max_files":
			if n, ok := d.positive(f.v); ok {
				if f.key == "max_lines" {
					c.MaxLines = n
				} else {
					c.MaxFiles = n
				}
			}
		case "criteria_by_command", "first_attempt", "no_open_threads", "revert":
			b := d.boolean(f.v)
			if _, isBool := f.v.node.(*ast.BoolNode); isBool && !b {
				d.errorf(f.v.pos, "%s: %s: false would hold for every change; write the condition as true, or leave it out", v.desc, f.key)
			}
			switch f.key {
			case "criteria_by_command":
				c.CriteriaByCommand = b
			case "first_attempt":
				c.FirstAttempt = b
			case "no_open_threads":
				c.NoOpenThreads = b
			default:
				c.Revert = b
			}
		}
	})
	if !ok {
		return c
	}
	m, _ := v.node.(*ast.MappingNode)
	switch {
	case len(keys) > 1:
		d.errorf(v.pos, "%s has %d keys (%s): a condition is one key; list each as its own item", v.desc, len(keys), strings.Join(keys, ", "))
	case len(keys) == 0 && (m == nil || len(m.Values) == 0):
		d.errorf(v.pos, "%s is empty: a condition is one key, such as paths: [\"docs/**\"]", v.desc)
	}
	return c
}

// ruleGlobs reads a non-empty list of globs, checked as hygiene checks its
// own: the same matcher applies them.
func (d *decoder) ruleGlobs(v value) []string {
	its, ok := d.items(v)
	if ok && len(its) == 0 {
		d.errorf(v.pos, "%s is empty: list at least one glob", v.desc)
	}
	var out []string
	for _, it := range its {
		g := d.str(it)
		if err := hygiene.Valid(g); err != nil {
			d.errorf(it.pos, "%s: %v", v.desc, err)
			continue
		}
		out = append(out, g)
	}
	return out
}

// accessLevel reads a project access level by name (guest ... owner).
func (d *decoder) accessLevel(v value) agentorg.AccessLevel {
	name := d.str(v)
	if name == "" {
		return agentorg.AccessNone
	}
	l, err := agentorg.ParseAccessLevel(name)
	if err != nil {
		d.errorf(v.pos, "%v%s", err, suggest(strings.ToLower(name), agentorg.AccessLevelNames()))
	}
	return l
}

func (d *decoder) checks(v value) []Check {
	its, _ := d.items(v)
	out := make([]Check, len(its))
	for i, it := range its {
		it.desc = d.itemName(it, "check", i)
		c := &out[i]
		d.object(it, at("checks", strconv.Itoa(i)), it.pos, checkKeys, []string{"name", "run"}, func(f entry) {
			switch f.key {
			case "name":
				c.Name = d.str(f.v)
			case "run":
				c.Run = d.str(f.v)
			case "timeout":
				c.Timeout = d.duration(f.v)
			}
		})
	}
	return out
}

func (d *decoder) promptMap(v value, prompts map[string]string) {
	v.desc = "prompts"
	entries, _ := d.mapping(v)
	for _, e := range entries {
		if !contains(promptNames, e.key) {
			d.errorf(e.keyPos, "unknown prompt %q (known: %s)%s", e.key, strings.Join(promptNames, ", "), suggest(e.key, promptNames))
			continue
		}
		e.v.desc = fmt.Sprintf("prompt %q", e.key)
		prompts[e.key] = d.str(e.v)
		switch e.v.node.(type) {
		case *ast.MappingNode, *ast.SequenceNode:
			// Already reported as not text; checking it as a template
			// would only repeat that.
			continue
		}
		d.prompts[e.key] = e.v
		d.keyPos[at("prompts", e.key)] = e.keyPos
	}
}

func (d *decoder) budget(e entry, b *Budget) {
	d.object(e.v, "budget", e.keyPos, budgetKeys, nil, func(f entry) {
		switch f.key {
		case "attempts", "stall_attempts", "tokens", "review_rounds":
			v, ok := d.integer(f.v)
			if !ok {
				return
			}
			if v < 1 {
				d.errorf(f.v.pos, "budget.%s must be at least 1, not %d", f.key, v)
			}
			switch f.key {
			case "attempts":
				b.Attempts = v
			case "stall_attempts":
				b.StallAttempts = v
			case "tokens":
				b.Tokens = v
			case "review_rounds":
				b.ReviewRounds = v
			}
		case "wall_time":
			b.WallTime = d.duration(f.v)
		case "cost_usd":
			if v, ok := d.number(f.v); ok {
				if v <= 0 {
					d.errorf(f.v.pos, "budget.cost_usd must be positive, not %g", v)
				}
				b.CostUSD = v
			}
		}
	})
}

func (d *decoder) hygiene(e entry, h *Hygiene) {
	d.object(e.v, "hygiene", e.keyPos, hygieneKeys, nil, func(f entry) {
		switch f.key {
		case "junk_refused":
			h.JunkRefused = d.boolean(f.v)
		case "allow", "deny", "junk":
			its, _ := d.items(f.v)
			globs := []string{} // set, even empty: deny's defaults are for a workflow that does not say
			for _, it := range its {
				g := d.str(it)
				if err := hygiene.Valid(g); err != nil {
					d.errorf(it.pos, "hygiene.%s: %v", f.key, err)
					continue
				}
				globs = append(globs, g)
			}
			switch f.key {
			case "allow":
				h.Allow = globs
			case "deny":
				h.Deny = globs
			default:
				h.Junk = globs
			}
		case "max_diff_lines", "max_files":
			if v, ok := d.integer(f.v); ok {
				if v < 1 {
					d.errorf(f.v.pos, "hygiene.%s must be at least 1, not %d", f.key, v)
				}
				if f.key == "max_files" {
					h.MaxFiles = v
				} else {
					h.MaxDiffLines = v
				}
			}
		case "max_diff_bytes":
			h.MaxDiffBytes = d.size(f.v, "hygiene."+f.key)
		case "max_file_bytes":
			h.MaxFileBytes = d.size(f.v, "hygiene."+f.key)
		case "symlinks":
			h.Symlinks = d.oneOf(f.v, "hygiene.symlinks", hygiene.SymlinkPolicies)
		case "modes":
			h.Modes = d.oneOf(f.v, "hygiene.modes", hygiene.ModePolicies)
		}
	})
}

// Bounds of a workflow file: far above any real one, low enough that a
// hostile or broken file cannot make the YAML parser take gigabytes.
const (
	maxFileBytes = 1 << 20
	maxFlowDepth = 64
)

// outOfBounds says why data is too large or too deeply nested to parse
// ("" when it is not): its size, and the nesting of flow collections ([
// and {). Brackets are counted everywhere, in strings and comments too: a
// real workflow never opens 64 without closing them, and a count that
// skipped quoted text could be led astray by a stray quote.
func outOfBounds(data []byte) string {
	if len(data) > maxFileBytes {
		return fmt.Sprintf("the workflow file is %d bytes, over the limit of %d", len(data), maxFileBytes)
	}
	depth, line := 0, 1
	for _, c := range data {
		switch c {
		case '\n':
			line++
		case '[', '{':
			if depth++; depth > maxFlowDepth {
				return fmt.Sprintf("line %d: collections nested more than %d deep", line, maxFlowDepth)
			}
		case ']', '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return ""
}

// oneOf reads a string that must be one of values.
func (d *decoder) oneOf(v value, name string, values []string) string {
	s := d.str(v)
	if !contains(values, s) {
		d.errorf(v.pos, "%s must be %s, not %q%s", name, orList(values), s, suggest(s, values))
	}
	return s
}

// orList writes "a, b or c".
func orList(values []string) string {
	if len(values) < 2 {
		return strings.Join(values, "")
	}
	return strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}

// size reads a number of bytes: an integer, or a string with a unit
// ("5MB", "512KiB"); see parseSize.
func (d *decoder) size(v value, name string) int {
	var n int
	switch node := v.node.(type) {
	case *ast.IntegerNode:
		var ok bool
		if n, ok = d.integer(v); !ok {
			return 0
		}
	case *ast.StringNode:
		var err error
		if n, err = parseSize(node.Value); err != nil {
			d.errorf(v.pos, "%s must be a size such as 5000000, 5MB or 512KiB, not %q", name, node.Value)
			return 0
		}
	default:
		d.errorf(v.pos, "%s must be a size such as 5000000, 5MB or 512KiB, not %s", name, describe(v.node))
		return 0
	}
	if n < 1 {
		d.errorf(v.pos, "%s must be at least 1 byte, not %s", name, v.node.GetToken().Value)
	}
	return n
}

// uniqueName reads the name of an item of a list (a rule, an environment):
// what re allows, unique in the list (first holds each name's line).
func (d *decoder) uniqueName(v value, what, like string, re *regexp.Regexp, first map[string]int) string {
	name := d.str(v)
	if name == "" {
		return ""
	}
	if !re.MatchString(name) {
		d.errorf(v.pos, "%s %q must be lower-case letters, digits and dashes, %s", what, name, like)
	}
	if line, dup := first[name]; dup {
		d.errorf(v.pos, "duplicate %s %q (first at line %d)", what, name, line)
	} else {
		first[name] = v.pos.Line
	}
	return name
}
