package eventlog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/agentorg/agentorg/deploy"
)

// Releases and deployments (issue 18): what was released, from which
// commit, with which notes; and every deployment of a release to an
// environment, who or what rule allowed it, and how it went.
const releaseSchema = `
CREATE TABLE IF NOT EXISTS agentorg_releases (
	version      TEXT PRIMARY KEY,
	tag          TEXT NOT NULL,
	commit_sha   TEXT NOT NULL,
	issue        INTEGER NOT NULL,
	notes        TEXT NOT NULL,
	issues       TEXT NOT NULL DEFAULT '[]',
	mr           INTEGER NOT NULL DEFAULT 0,
	correction   TEXT NOT NULL DEFAULT '',
	url          TEXT NOT NULL DEFAULT '',
	published    INTEGER NOT NULL DEFAULT 0,
	at           TEXT NOT NULL,
	published_at TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS agentorg_deployments (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	env        TEXT NOT NULL,
	version    TEXT NOT NULL,
	commit_sha TEXT NOT NULL,
	state      TEXT NOT NULL,
	rollback   INTEGER NOT NULL DEFAULT 0,
	allowed_by TEXT NOT NULL DEFAULT '',
	issue      INTEGER NOT NULL DEFAULT 0,
	output     TEXT NOT NULL DEFAULT '',
	forge_id   INTEGER NOT NULL DEFAULT 0,
	started    TEXT NOT NULL,
	finished   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS agentorg_deployments_env ON agentorg_deployments (env, id);
CREATE TABLE IF NOT EXISTS agentorg_deploy_approvals (
	env     TEXT NOT NULL,
	version TEXT NOT NULL,
	"user"  TEXT NOT NULL,
	at      TEXT NOT NULL,
	PRIMARY KEY (env, version, "user")
);`

// ReleaseRecord is a release: drafted by the release stage (its notes and
// the merge request of its CHANGELOG change), published once tagged.
type ReleaseRecord struct {
	Version, Tag, Commit string
	Issue                int64   // the release issue
	Notes                string  // markdown
	Issues               []int64 // the merged issues it carries
	MR                   int64   // the CHANGELOG change's merge request
	Correction           string  // what agentorg corrected in the agent's version
	URL                  string  // the forge's release page, when it keeps one
	Published            bool
	At, PublishedAt      time.Time
}

const releaseColumns = `version, tag, commit_sha, issue, notes, issues, mr, correction, url, published, at, published_at`

func scanRelease(row interface{ Scan(...any) error }) (ReleaseRecord, error) {
	var r ReleaseRecord
	var issues, at, pub string
	if err := row.Scan(&r.Version, &r.Tag, &r.Commit, &r.Issue, &r.Notes, &issues, &r.MR, &r.Correction, &r.URL, &r.Published, &at, &pub); err != nil {
		return r, err
	}
	_ = json.Unmarshal([]byte(issues), &r.Issues)
	r.At, _ = time.Parse(timeFormat, at)
	r.PublishedAt, _ = time.Parse(timeFormat, pub)
	return r, nil
}

// DraftRelease records a release the release stage drafted; a draft of the
// same version (the stage run again) is replaced, a published one never.
func (l *Log) DraftRelease(ctx context.Context, r ReleaseRecord) error {
	issues, _ := json.Marshal(r.Issues)
	if r.At.IsZero() {
		r.At = l.now()
	}
	res, err := l.db.ExecContext(ctx, `INSERT INTO agentorg_releases (`+releaseColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', 0, ?, '')
		ON CONFLICT (version) DO UPDATE SET tag = excluded.tag, commit_sha = excluded.commit_sha, issue = excluded.issue, notes = excluded.notes,
			issues = excluded.issues, mr = excluded.mr, correction = excluded.correction, at = excluded.at
		WHERE agentorg_releases.published = 0`,
		r.Version, r.Tag, r.Commit, r.Issue, text(r.Notes), string(issues), r.MR, text(r.Correction), r.At.UTC().Format(timeFormat))
	if err != nil {
		return fmt.Errorf("eventlog: release %s: %w", r.Version, err)
	}
	if k, _ := res.RowsAffected(); k == 0 {
		return fmt.Errorf("eventlog: release %s is published already", r.Version)
	}
	return nil
}

// PublishRelease marks a drafted release published, with the forge's page.
func (l *Log) PublishRelease(ctx context.Context, version, url string) error {
	_, err := l.db.ExecContext(ctx, `UPDATE agentorg_releases SET published = 1, url = ?, published_at = ? WHERE version = ?`,
		url, l.now().UTC().Format(timeFormat), version)
	if err != nil {
		return fmt.Errorf("eventlog: release %s: %w", version, err)
	}
	return nil
}

// Release returns the release of version.
func (l *Log) Release(ctx context.Context, version string) (ReleaseRecord, bool, error) {
	r, err := scanRelease(l.db.QueryRowContext(ctx, `SELECT `+releaseColumns+` FROM agentorg_releases WHERE version = ?`, version))
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}

// ReleaseOf returns the release an issue drafted (the newest).
func (l *Log) ReleaseOf(ctx context.Context, issue int64) (ReleaseRecord, bool, error) {
	r, err := scanRelease(l.db.QueryRowContext(ctx, `SELECT `+releaseColumns+` FROM agentorg_releases WHERE issue = ? ORDER BY at DESC LIMIT 1`, issue))
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}

// Releases returns every release, published or drafted, newest first.
func (l *Log) Releases(ctx context.Context) ([]ReleaseRecord, error) {
	return queryAll(ctx, l.db, "releases", scanRelease, `SELECT `+releaseColumns+` FROM agentorg_releases ORDER BY at DESC`)
}

// Deployment is one deployment of a version to an environment (or a
// rollback to it).
type Deployment struct {
	ID                int64
	Env, Version      string
	Commit            string
	State             string // running, succeeded, failed, rolled-back, interrupted
	Rollback          bool
	AllowedBy         string // the rule or the people that allowed it
	Issue             int64  // the release issue
	Output            string // the commands' output tails
	ForgeID           int64  // the forge's deployment, when it keeps them
	Started, Finished time.Time
}

const deploymentColumns = `id, env, version, commit_sha, state, rollback, allowed_by, issue, output, forge_id, started, finished`

func scanDeployment(row interface{ Scan(...any) error }) (Deployment, error) {
	var d Deployment
	var started, finished string
	if err := row.Scan(&d.ID, &d.Env, &d.Version, &d.Commit, &d.State, &d.Rollback, &d.AllowedBy, &d.Issue, &d.Output, &d.ForgeID, &started, &finished); err != nil {
		return d, err
	}
	d.Started, _ = time.Parse(timeFormat, started)
	d.Finished, _ = time.Parse(timeFormat, finished)
	return d, nil
}

// StartDeployment records a deployment about to run, before its command
// starts: a crash leaves it running, for the restart to finish, never a
// deployment nobody recorded.
func (l *Log) StartDeployment(ctx context.Context, d Deployment) (int64, error) {
	if d.Started.IsZero() {
		d.Started = l.now()
	}
	var id int64
	err := l.db.QueryRowContext(ctx, `INSERT INTO agentorg_deployments (env, version, commit_sha, state, rollback, allowed_by, issue, started)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, d.Env, d.Version, d.Commit, d.State, b2i(d.Rollback), d.AllowedBy, d.Issue, d.Started.UTC().Format(timeFormat)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("eventlog: deployment of %s to %s: %w", d.Version, d.Env, err)
	}
	return id, nil
}

// SetDeploymentForge records the forge's id of a deployment.
func (l *Log) SetDeploymentForge(ctx context.Context, id, forgeID int64) error {
	_, err := l.db.ExecContext(ctx, `UPDATE agentorg_deployments SET forge_id = ? WHERE id = ?`, forgeID, id)
	return err
}

// FinishDeployment records how a deployment ended, with its output.
func (l *Log) FinishDeployment(ctx context.Context, id int64, state, output string) error {
	_, err := l.db.ExecContext(ctx, `UPDATE agentorg_deployments SET state = ?, output = ?, finished = ? WHERE id = ?`,
		state, text(output), l.now().UTC().Format(timeFormat), id)
	if err != nil {
		return fmt.Errorf("eventlog: deployment %d: %w", id, err)
	}
	return nil
}

// Deployments returns every deployment (env "" for all), oldest first.
func (l *Log) Deployments(ctx context.Context, env string) ([]Deployment, error) {
	q, args := `SELECT `+deploymentColumns+` FROM agentorg_deployments`, []any{}
	if env != "" {
		q += ` WHERE env = ?`
		args = append(args, env)
	}
	return queryAll(ctx, l.db, "deployments", scanDeployment, q+` ORDER BY id`, args...)
}

// ApproveDeployment records that user approved deploying version to env
// (once per person).
func (l *Log) ApproveDeployment(ctx context.Context, env, version, user string) error {
	_, err := l.db.ExecContext(ctx, `INSERT INTO agentorg_deploy_approvals (env, version, "user", at) VALUES (?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, env, version, user, l.now().UTC().Format(timeFormat))
	if err != nil {
		return fmt.Errorf("eventlog: approval of %s to %s: %w", version, env, err)
	}
	return nil
}

// DeployApprovals returns who approved deploying version to env.
func (l *Log) DeployApprovals(ctx context.Context, env, version string) ([]string, error) {
	return queryAll(ctx, l.db, "deploy approvals", func(row interface{ Scan(...any) error }) (u string, err error) {
		return u, row.Scan(&u)
	}, `SELECT "user" FROM agentorg_deploy_approvals WHERE env = ? AND version = ? ORDER BY at`, env, version)
}

// DeployHistory is deployments as package deploy reads a history.
func DeployHistory(deps []Deployment) []deploy.Record {
	out := make([]deploy.Record, 0, len(deps))
	for _, x := range deps {
		out = append(out, deploy.Record{Env: x.Env, Version: x.Version, State: x.State, Started: x.Started, Finished: x.Finished, Rollback: x.Rollback})
	}
	return out
}
