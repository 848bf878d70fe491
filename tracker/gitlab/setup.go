package gitlab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	gl "gitlab.com/gitlab-org/api/client-go"
)

// LabelSpec is a label as the workflow defines it.
type LabelSpec struct {
	Name, Color, Description string
}

// LabelChange says what SyncLabels did to one label.
type LabelChange struct {
	Name   string
	Action string // "created", "updated", "unchanged", or "inherited" (a group label, left alone)
	Detail string
}

// SyncLabels creates the project labels that are missing and updates the
// colour and description of those that differ. Labels inherited from a
// group are reported, not changed.
func (t *Tracker) SyncLabels(ctx context.Context, want []LabelSpec) ([]LabelChange, error) {
	have, err := t.labels(ctx)
	if err != nil {
		return nil, err
	}
	var out []LabelChange
	for _, w := range want {
		color := w.Color
		if color == "" {
			color = "#6699cc"
		}
		cur, ok := have[w.Name]
		switch {
		case !ok:
			if _, _, err := t.c.Labels.CreateLabel(t.project, &gl.CreateLabelOptions{Name: &w.Name, Color: &color, Description: &w.Description},
				gl.WithContext(ctx)); err != nil {
				return out, wrap(err, "gitlab: create label "+w.Name)
			}
			out = append(out, LabelChange{Name: w.Name, Action: "created", Detail: color})
		case strings.EqualFold(cur.Color, color) && cur.Description == w.Description:
			out = append(out, LabelChange{Name: w.Name, Action: "unchanged"})
		case !cur.IsProjectLabel:
			out = append(out, LabelChange{Name: w.Name, Action: "inherited",
				Detail: fmt.Sprintf("a group label (%s); change it in the group if it should look as the workflow says", cur.Color)})
		default:
			if _, _, err := t.c.Labels.UpdateLabel(t.project, cur.ID, &gl.UpdateLabelOptions{Color: &color, Description: &w.Description},
				gl.WithContext(ctx)); err != nil {
				return out, wrap(err, "gitlab: update label "+w.Name)
			}
			out = append(out, LabelChange{Name: w.Name, Action: "updated", Detail: fmt.Sprintf("%s → %s", cur.Color, color)})
		}
	}
	return out, nil
}

func (t *Tracker) labels(ctx context.Context) (map[string]*gl.Label, error) {
	opt := &gl.ListLabelsOptions{ListOptions: gl.ListOptions{PerPage: 100, Page: 1}}
	have := map[string]*gl.Label{}
	for {
		page, resp, err := t.c.Labels.ListLabels(t.project, opt, gl.WithContext(ctx))
		if err != nil {
			return nil, wrap(err, "gitlab: list labels")
		}
		for _, l := range page {
			have[l.Name] = l
		}
		if resp.NextPage == 0 {
			return have, nil
		}
		opt.Page = resp.NextPage
	}
}

// Problem is one thing Doctor found wrong, with a one-line fix.
type Problem struct {
	What, Fix string
}

// Doctor checks what the engine needs from GitLab: the instance answers,
// the token is accepted and has the api and write_repository scopes, the
// project exists, the token's account may merge into target, and the
// workflow's labels exist. It returns every problem found.
func (t *Tracker) Doctor(ctx context.Context, target string, labels []string) ([]Problem, error) {
	var out []Problem
	add := func(what, fix string) { out = append(out, Problem{What: what, Fix: fix}) }
	me, _, err := t.c.Users.CurrentUser(gl.WithContext(ctx))
	switch {
	case status(err) == http.StatusUnauthorized:
		add("GitLab refuses the token (401)", "create a new token and put it in the variable tracker.gitlab.token names")
		return out, nil
	case err != nil && status(err) == 0:
		add(fmt.Sprintf("GitLab does not answer at %s: %v", t.c.BaseURL(), err), "check tracker.gitlab.url (the instance, e.g. https://gitlab.example.com)")
		return out, nil
	case err != nil:
		return nil, fmt.Errorf("gitlab: who is the token's user: %w", err)
	}
	pat, _, err := t.c.PersonalAccessTokens.GetSinglePersonalAccessToken(gl.WithContext(ctx))
	switch {
	case err != nil:
		add(fmt.Sprintf("the token's scopes cannot be read (%v)", err), "make sure the token has the api and write_repository scopes")
	default:
		for _, s := range []string{"api", "write_repository"} {
			if !slices.Contains(pat.Scopes, s) {
				add(fmt.Sprintf("the token lacks the %s scope (it has: %s)", s, strings.Join(pat.Scopes, ", ")),
					"create a token with the api and write_repository scopes")
			}
		}
		if !pat.Active || pat.Revoked {
			add("the token is not active", "create a new token")
		}
	}
	p, _, err := t.c.Projects.GetProject(t.project, nil, gl.WithContext(ctx))
	if errors.Is(err, gl.ErrNotFound) {
		add(fmt.Sprintf("project %s is not found, or %s cannot see it", t.project, me.Username),
			"check tracker.gitlab.project (group/name or the numeric id) and add the bot to the project")
		return out, nil
	}
	if err != nil {
		return nil, wrap(err, "gitlab: project "+t.project)
	}
	level := gl.AccessLevelValue(0)
	if p.Permissions != nil {
		if p.Permissions.ProjectAccess != nil {
			level = p.Permissions.ProjectAccess.AccessLevel
		}
		if p.Permissions.GroupAccess != nil && p.Permissions.GroupAccess.AccessLevel > level {
			level = p.Permissions.GroupAccess.AccessLevel
		}
	}
	switch {
	case level < gl.DeveloperPermissions:
		add(fmt.Sprintf("%s has access level %d on %s; it needs at least Developer (30) to push and comment", me.Username, level, t.project),
			"give the bot the Maintainer role in the project")
	case level < gl.MaintainerPermissions:
		pb, _, err := t.c.ProtectedBranches.GetProtectedBranch(t.project, target, gl.WithContext(ctx))
		switch {
		case errors.Is(err, gl.ErrNotFound): // not protected: a Developer may merge
		case err != nil:
			return nil, wrap(err, "gitlab: protected branch "+target)
		default:
			allowed := false
			for _, a := range pb.MergeAccessLevels {
				allowed = allowed || (a.AccessLevel > 0 && a.AccessLevel <= level)
			}
			if !allowed {
				add(fmt.Sprintf("%s is a Developer and %s is protected: it cannot merge", me.Username, target),
					"give the bot the Maintainer role, or allow developers to merge into "+target)
			}
		}
	}
	have, err := t.labels(ctx)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, l := range labels {
		if _, ok := have[l]; !ok {
			missing = append(missing, l)
		}
	}
	if len(missing) > 0 {
		add("labels missing in the project: "+strings.Join(missing, ", "), "run `agentorg labels sync`")
	}
	return out, nil
}
