// Package gitlabfake is a GitLab REST v4 server for tests, speaking exactly
// the endpoints the gitlab tracker uses with payloads, status codes, headers
// (pagination, rate limits) and error bodies shaped like GitLab's documented
// ones. A real bare git repository stands behind it: merge request heads are
// its branches, merges are real git merges, and it serves git over smart
// HTTP (git http-backend) so that pushes can be tested with a token.
//
// It holds one project. Tokens map to users; an administrator's token may act
// as another user with the Sudo header, as on GitLab.
package gitlabfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is the fake GitLab.
type Server struct {
	*httptest.Server
	// Repo is the project's bare repository.
	Repo string
	// ProjectPath is the project's full path, e.g. "team/app"; its id is 7.
	ProjectPath string
	// CI, when set, says what pipeline a commit gets: it is asked the first
	// time a client looks for the pipelines of a SHA (as if the push had
	// started one) and may return nil for none.
	CI func(sha string) *PipelineSpec
	// AccessLevel is the bot's role in the project (default 40, Maintainer),
	// Scopes its token's scopes (default api, write_repository), Protected
	// the protected branches with the lowest level that may merge into each.
	AccessLevel int
	Scopes      []string
	Protected   map[string]int
	// ResetApprovalsOnPush clears approvals when a merge request's head
	// moves (a project setting, on by default on GitLab).
	ResetApprovalsOnPush bool

	mu       sync.Mutex
	users    map[string]*user // by username
	tokens   map[string]string
	nextID   int64
	issues   []*issue
	labels   map[string]*label
	notes    []*note
	events   []*labelEvent
	mrs      []*mergeRequest
	discs    []*discussion
	statuses []*commitStatus
	pipes    []*pipeline
	rels     []*rel
	envs     []*environment
	deploys  []*deploy
	asked    map[string]bool // SHAs CI was asked about
	counts   map[string]int
	paged    map[string]int // requests for a page after the first, by route
	total    int
	faults   []Fault
	limit    RateLimit
	gitLog   []string // user names the git endpoint was given
	offset   time.Duration
}

// Fault is an answer injected in place of the next matching requests.
type Fault struct {
	Method, Pattern string // empty matches any
	Status          int
	Header          http.Header
	Times           int
	// Lost handles the request first and then answers with Status: the
	// change is made but its answer is lost on the way back.
	Lost bool
}

// RateLimit is what the RateLimit-* headers of every answer say.
type RateLimit struct {
	Limit, Remaining int
	Reset            time.Time
}

type user struct {
	ID       int64
	Username string
	Admin    bool
	// Level is the user's access level in the project (0: not a member;
	// AddUser makes people developers), Blocked a blocked account.
	Level   int
	Blocked bool
}

type issue struct {
	ID, IID            int64
	Title, Description string
	State              string
	Labels             []string
	Author             *user
	Created, Updated   time.Time
	Closed             *time.Time
}

type label struct {
	ID                 int64
	Name, Color, Descr string
}

type note struct {
	ID      int64
	Issue   *issue
	Body    string
	Author  *user
	System  bool
	Created time.Time
	Updated time.Time
}

type labelEvent struct {
	ID     int64
	Issue  *issue
	User   *user
	Label  *label
	Action string
	At     time.Time
}

type approval struct {
	User *user
	At   time.Time
}

type version struct {
	ID      int64
	Head    string
	Base    string
	Created time.Time
}

type mergeRequest struct {
	ID, IID            int64
	Title, Description string
	Source, Target     string
	State              string
	Author, MergedBy   *user
	SHA, MergeSHA      string
	Created, Updated   time.Time
	Merged             *time.Time
	Approvals          []approval
	Versions           []version
	// AutoMergeBy set: merge when the pipeline on SHA succeeds.
	AutoMergeBy  *user
	AutoMergeMsg string // the commit message to merge with
}

// discussion is a thread on a merge request; its notes are resolved together.
type discussion struct {
	ID         string // 40 hex digits, as GitLab's
	MR         *mergeRequest
	Individual bool
	Notes      []*mrNote
}

type mrNote struct {
	ID               int64
	Body             string
	Author           *user
	Created, Updated time.Time
	Position         map[string]any // a diff note's position; nil otherwise
	Resolved         bool
	ResolvedBy       *user
	ResolvedAt       *time.Time
}

type commitStatus struct {
	ID               int64
	SHA, Name, State string
	Description, Ref string
	Author           *user
	Created          time.Time
}

const projectID = 7

// New starts a fake with a bare repository holding main with one commit,
// and a user "agentorg-bot" (token "bot-token", administrator, so the
// contract suite can act as other users with Sudo).
func New(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	s := &Server{
		Repo: filepath.Join(t.TempDir(), "app.git"), ProjectPath: "team/app",
		users: map[string]*user{}, tokens: map[string]string{}, labels: map[string]*label{},
		AccessLevel: 40, Scopes: []string{"api", "write_repository"}, Protected: map[string]int{"main": 40},
		counts: map[string]int{}, paged: map[string]int{}, asked: map[string]bool{}, limit: RateLimit{Limit: 2000, Remaining: 2000},
	}
	if out, err := exec.Command("git", "init", "--quiet", "--bare", "--initial-branch=main", s.Repo).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v: %s", err, out)
	}
	mustGit(t, s.Repo, "", "config", "http.receivepack", "true")
	blob := mustGit(t, s.Repo, "hello\n", "hash-object", "-w", "--stdin")
	tree := mustGit(t, s.Repo, "100644 blob "+blob+"\tREADME\n", "mktree")
	commit := mustGit(t, s.Repo, "", "commit-tree", tree, "-m", "initial")
	mustGit(t, s.Repo, "", "update-ref", "refs/heads/main", commit)
	s.AddUser("agentorg-bot", "bot-token", true)
	s.Server = httptest.NewServer(s.routes())
	t.Cleanup(s.Close)
	return s
}

// AddUser adds a user; token may be empty for users who only act through
// Sudo.
func (s *Server) AddUser(username, token string, admin bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.users[username] = &user{ID: s.nextID, Username: username, Admin: admin, Level: 30}
	if token != "" {
		s.tokens[token] = username
	}
}

// Inject answers the next f.Times requests matching f with f.Status.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// SetRateLimit sets what the RateLimit-* headers say from now on.
func (s *Server) SetRateLimit(l RateLimit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = l
}

// Requests returns how many API requests were answered so far (git traffic
// excluded), and per route ("GET /api/v4/projects/{id}/issues").
func (s *Server) Requests() (int, map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		m[k] = v
	}
	return s.total, m
}

// Paged returns, by route, how many requests asked for a page after the
// first: what paging through a long list cost.
func (s *Server) Paged() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int, len(s.paged))
	for k, v := range s.paged {
		m[k] = v
	}
	return m
}

// GitAuth lists the credentials the git endpoint received, by user name
// (the password is checked, never kept).
func (s *Server) GitAuth() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.gitLog)
}

// Token is the bot's token.
const Token = "bot-token"

// URL of the project's repository over HTTP.
func (s *Server) GitURL() string { return s.URL + "/" + s.ProjectPath + ".git" }

func (s *Server) now() time.Time { return time.Now().Add(s.offset).UTC().Truncate(time.Millisecond) }

// Advance moves the server's clock forward, as if d had passed.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += d
}

func (s *Server) id() int64 { s.nextID++; return s.nextID }

// ---- HTTP plumbing ----

type ctxKey struct{}

type call struct {
	w      http.ResponseWriter
	r      *http.Request
	actor  *user
	params map[string]any
}

type handler func(c *call) (int, any)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern string, h handler) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { s.serveAPI(w, r, pattern, h) })
	}
	p := "/api/v4/projects/{id}"
	api("GET /api/v4/user", s.currentUser)
	api("GET /api/v4/users", s.listUsers)
	api("GET "+p+"/members/all/{uid}", s.memberAll)
	api("POST "+p+"/merge_requests/{iid}/cancel_merge_when_pipeline_succeeds", s.cancelAutoMerge)
	api("GET "+p, s.getProject)
	api("GET "+p+"/issues", s.listIssues)
	api("POST "+p+"/issues", s.createIssue)
	api("GET "+p+"/issues/{iid}", s.getIssue)
	api("PUT "+p+"/issues/{iid}", s.updateIssue)
	api("GET "+p+"/issues/{iid}/resource_label_events", s.listLabelEvents)
	api("GET "+p+"/issues/{iid}/notes", s.listNotes)
	api("POST "+p+"/issues/{iid}/notes", s.createNote)
	api("PUT "+p+"/issues/{iid}/notes/{nid}", s.updateNote)
	api("DELETE "+p+"/issues/{iid}/notes/{nid}", s.deleteNote)
	api("GET "+p+"/merge_requests", s.listMRs)
	api("POST "+p+"/merge_requests", s.createMR)
	api("GET "+p+"/merge_requests/{iid}", s.getMR)
	api("GET "+p+"/merge_requests/{iid}/approvals", s.getApprovals)
	api("POST "+p+"/merge_requests/{iid}/approve", s.approve)
	api("POST "+p+"/merge_requests/{iid}/unapprove", s.unapprove)
	api("GET "+p+"/merge_requests/{iid}/versions", s.versions)
	api("PUT "+p+"/merge_requests/{iid}/merge", s.merge)
	api("GET "+p+"/merge_requests/{iid}/discussions", s.listDiscussions)
	api("POST "+p+"/merge_requests/{iid}/discussions", s.createDiscussion)
	api("GET "+p+"/merge_requests/{iid}/discussions/{did}", s.getDiscussion)
	api("PUT "+p+"/merge_requests/{iid}/discussions/{did}", s.resolveDiscussion)
	api("POST "+p+"/merge_requests/{iid}/discussions/{did}/notes", s.addDiscussionNote)
	api("POST "+p+"/statuses/{sha}", s.setStatus)
	api("GET "+p+"/repository/commits/{sha}/statuses", s.listStatuses)
	api("GET /api/v4/personal_access_tokens/self", s.tokenSelf)
	api("GET "+p+"/labels", s.listLabels)
	api("POST "+p+"/labels", s.createLabel)
	api("PUT "+p+"/labels/{lid}", s.updateLabel)
	api("GET "+p+"/protected_branches/{name}", s.protectedBranch)
	api("GET "+p+"/pipelines", s.listPipelines)
	api("GET "+p+"/pipelines/{pid}/jobs", s.listJobs)
	api("GET "+p+"/jobs/{jid}/trace", s.trace)
	api("GET "+p+"/releases", s.listReleases)
	api("POST "+p+"/releases", s.createRelease)
	api("GET "+p+"/releases/{tag}", s.getRelease)
	api("GET "+p+"/environments", s.listEnvironments)
	api("GET "+p+"/deployments", s.listDeployments)
	api("POST "+p+"/deployments", s.createDeployment)
	api("GET "+p+"/deployments/{did}", s.getDeployment)
	api("PUT "+p+"/deployments/{did}", s.updateDeployment)
	mux.HandleFunc("/", s.serveGit)
	return mux
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, pattern string, h handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total++
	s.counts[pattern]++
	if p, _ := strconv.Atoi(r.URL.Query().Get("page")); p > 1 {
		s.paged[pattern]++
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Date", s.now().Format(http.TimeFormat))
	w.Header().Set("RateLimit-Limit", strconv.Itoa(s.limit.Limit))
	w.Header().Set("RateLimit-Remaining", strconv.Itoa(s.limit.Remaining))
	if !s.limit.Reset.IsZero() {
		w.Header().Set("RateLimit-Reset", strconv.FormatInt(s.limit.Reset.Unix(), 10))
	}
	var lost *Fault
	for i := range s.faults {
		f := &s.faults[i]
		method, _, _ := strings.Cut(pattern, " ")
		if f.Times > 0 && (f.Method == "" || f.Method == method) && (f.Pattern == "" || f.Pattern == pattern) {
			f.Times--
			if f.Lost {
				lost = f
				break
			}
			for k, v := range f.Header {
				w.Header()[k] = v
			}
			writeJSON(w, f.Status, map[string]string{"message": fmt.Sprintf("%d %s", f.Status, http.StatusText(f.Status))})
			return
		}
	}
	token := r.Header.Get("PRIVATE-TOKEN")
	if token == "" {
		token = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	name, ok := s.tokens[token]
	if !ok {
		writeJSON(w, 401, map[string]string{"message": "401 Unauthorized"})
		return
	}
	c := &call{w: w, r: r, actor: s.users[name]}
	if sudo := r.Header.Get("Sudo"); sudo != "" {
		if !c.actor.Admin {
			writeJSON(w, 403, map[string]string{"message": "403 Forbidden - Must be admin to use sudo"})
			return
		}
		u, ok := s.users[sudo]
		if !ok {
			writeJSON(w, 404, map[string]string{"message": "404 User with ID or username '" + sudo + "' Not Found"})
			return
		}
		c.actor = u
	}
	if id := r.PathValue("id"); id != "" && id != strconv.Itoa(projectID) && id != s.ProjectPath {
		writeJSON(w, 404, map[string]string{"message": "404 Project Not Found"})
		return
	}
	var err error
	if c.params, err = params(r); err != nil {
		writeJSON(w, 400, map[string]string{"error": err.Error()})
		return
	}
	code, body := h(c)
	if lost != nil {
		for k, v := range lost.Header {
			w.Header()[k] = v
		}
		writeJSON(w, lost.Status, map[string]string{"message": fmt.Sprintf("%d %s", lost.Status, http.StatusText(lost.Status))})
		return
	}
	writeJSON(w, code, body)
}

// rawText is an answer that is not JSON (a job's log).
type rawText string

func writeJSON(w http.ResponseWriter, code int, body any) {
	if t, ok := body.(rawText); ok {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		io.WriteString(w, string(t))
		return
	}
	w.WriteHeader(code)
	if body != nil {
		json.NewEncoder(w).Encode(body)
	}
}

// params merges the query, a form body and a JSON body.
func params(r *http.Request) (map[string]any, error) {
	out := map[string]any{}
	for k, v := range r.URL.Query() {
		out[k] = v[len(v)-1]
	}
	if r.Body == nil {
		return out, nil
	}
	var buf bytes.Buffer
	buf.ReadFrom(r.Body)
	if buf.Len() == 0 {
		return out, nil
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("invalid JSON body: %v", err)
		}
		for k, v := range m {
			out[k] = v
		}
		return out, nil
	}
	form, err := url.ParseQuery(buf.String())
	if err != nil {
		return nil, err
	}
	for k, v := range form {
		out[k] = v[len(v)-1]
	}
	return out, nil
}

func (c *call) str(k string) (string, bool) {
	v, ok := c.params[k]
	if !ok || v == nil {
		return "", false
	}
	switch v := v.(type) {
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return fmt.Sprint(v), true
}

// list reads a comma-separated or array parameter.
func (c *call) list(k string) ([]string, bool) {
	v, ok := c.params[k]
	if !ok || v == nil {
		return nil, false
	}
	var out []string
	switch v := v.(type) {
	case []any:
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
	default:
		s, _ := c.str(k)
		for _, x := range strings.Split(s, ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
	}
	return out, true
}

func (c *call) int(k string) int64 {
	s, _ := c.str(k)
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

func (c *call) path(k string) int64 {
	n, _ := strconv.ParseInt(c.r.PathValue(k), 10, 64)
	return n
}

func msg(code int, m any) (int, any) { return code, map[string]any{"message": m} }

func notFound(what string) (int, any) { return msg(404, "404 "+what+" Not Found") }

// paginate applies per_page/page and sets GitLab's pagination headers.
func paginate[T any](c *call, items []T) []T {
	per := int(c.int("per_page"))
	if per <= 0 {
		per = 20
	}
	per = min(per, 100)
	page := max(int(c.int("page")), 1)
	total := len(items)
	pages := max((total+per-1)/per, 1)
	h := c.w.Header()
	h.Set("X-Page", strconv.Itoa(page))
	h.Set("X-Per-Page", strconv.Itoa(per))
	h.Set("X-Total", strconv.Itoa(total))
	h.Set("X-Total-Pages", strconv.Itoa(pages))
	h.Set("X-Prev-Page", "")
	if page > 1 {
		h.Set("X-Prev-Page", strconv.Itoa(page-1))
	}
	h.Set("X-Next-Page", "")
	if page < pages {
		h.Set("X-Next-Page", strconv.Itoa(page+1))
		u := *c.r.URL
		q := u.Query()
		q.Set("page", strconv.Itoa(page+1))
		u.RawQuery = q.Encode()
		h.Set("Link", fmt.Sprintf(`<http://%s%s>; rel="next"`, c.r.Host, u.String()))
	}
	start := min((page-1)*per, total)
	end := min(start+per, total)
	out := items[start:end]
	if out == nil {
		out = []T{}
	}
	return out
}

// ---- git ----

func git(dir, stdin string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"--git-dir", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=GitLab", "GIT_AUTHOR_EMAIL=gitlab@example.com",
		"GIT_COMMITTER_NAME=GitLab", "GIT_COMMITTER_EMAIL=gitlab@example.com")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return strings.TrimSpace(out.String()), fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, errb.String())
	}
	return strings.TrimSpace(out.String()), nil
}

func mustGit(t testing.TB, dir, stdin string, args ...string) string {
	t.Helper()
	out, err := git(dir, stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// head is the SHA of a branch, "" when there is none.
func (s *Server) head(branch string) string {
	out, err := git(s.Repo, "", "rev-parse", "--verify", "--quiet", "refs/heads/"+branch)
	if err != nil {
		return ""
	}
	return out
}
