package gitlab_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/tracker/gitlab"
	"github.com/agentorg/agentorg/tracker/gitlab/gitlabfake"
)

func TestSyncLabels(t *testing.T) {
	e := newEnv(t, false)
	ctx := t.Context()
	want := []gitlab.LabelSpec{{Name: "dev:ready", Color: "#8fbc8f", Description: "ready"}, {Name: "needs:human", Color: "#d10069"}}
	summary := func(cs []gitlab.LabelChange) string {
		var parts []string
		for _, c := range cs {
			parts = append(parts, c.Name+"="+c.Action)
		}
		return strings.Join(parts, " ")
	}
	cs, err := e.tr.SyncLabels(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	if got := summary(cs); got != "dev:ready=created needs:human=created" {
		t.Fatalf("first sync: %s", got)
	}
	if cs, _ = e.tr.SyncLabels(ctx, want); summary(cs) != "dev:ready=unchanged needs:human=unchanged" {
		t.Fatalf("second sync: %s", summary(cs))
	}
	want[0].Color = "#000000"
	if cs, _ = e.tr.SyncLabels(ctx, want); summary(cs) != "dev:ready=updated needs:human=unchanged" || cs[0].Detail != "#8fbc8f → #000000" {
		t.Fatalf("after a colour change: %s %+v", summary(cs), cs)
	}
}

func TestDoctor(t *testing.T) {
	labels := []string{"dev:ready", "needs:human"}
	cases := []struct {
		name  string
		setup func(f *gitlabfake.Server, tr *gitlab.Tracker)
		token string
		want  []string // substrings of the problems, in order
	}{
		{"healthy", func(f *gitlabfake.Server, tr *gitlab.Tracker) {
			tr.SyncLabels(context.Background(), []gitlab.LabelSpec{{Name: "dev:ready"}, {Name: "needs:human"}})
		}, gitlabfake.Token, nil},
		{"labels missing", nil, gitlabfake.Token, []string{"labels missing in the project: dev:ready, needs:human -> run `agentorg labels sync`"}},
		{"wrong token", nil, "nope", []string{"GitLab refuses the token (401)"}},
		{"scopes and role", func(f *gitlabfake.Server, tr *gitlab.Tracker) {
			f.Scopes = []string{"read_api"}
			f.AccessLevel = 30
			tr.SyncLabels(context.Background(), []gitlab.LabelSpec{{Name: "dev:ready"}, {Name: "needs:human"}})
		}, gitlabfake.Token, []string{
			"lacks the api scope", "lacks the write_repository scope",
			"is a Developer and main is protected: it cannot merge -> give the bot the Maintainer role, or allow developers to merge into main",
		}},
		{"developers may merge", func(f *gitlabfake.Server, tr *gitlab.Tracker) {
			f.AccessLevel = 30
			f.Protected["main"] = 30
			tr.SyncLabels(context.Background(), []gitlab.LabelSpec{{Name: "dev:ready"}, {Name: "needs:human"}})
		}, gitlabfake.Token, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, false)
			if c.setup != nil {
				c.setup(e.fake, e.tr)
			}
			tr := e.tr
			if c.token != gitlabfake.Token {
				tr = trackerWithToken(t, e.fake, e.db, c.token)
			}
			problems, err := tr.Doctor(t.Context(), "main", labels)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range problems {
				got = append(got, p.What+" -> "+p.Fix)
			}
			if len(got) != len(c.want) {
				t.Fatalf("problems:\n%s\nwant %d", strings.Join(got, "\n"), len(c.want))
			}
			for i, w := range c.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d: %q, want it to say %q", i, got[i], w)
				}
			}
		})
	}
}

func trackerWithToken(t *testing.T, f *gitlabfake.Server, db *sql.DB, token string) *gitlab.Tracker {
	t.Helper()
	tr, err := gitlab.New(t.Context(), gitlab.Options{BaseURL: f.URL, Project: f.ProjectPath, Token: token, Bot: "agentorg", DB: db})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}
