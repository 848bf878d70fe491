package eventlog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// What the organization told humans outside the tracker (Discord): one
// row per notice with the message it became, so that a restart edits that
// message instead of posting again; the follower's place in the event log;
// and the interactions already answered, so a replayed one acts once.
const noticeSchema = `
CREATE TABLE IF NOT EXISTS agentorg_notices (
	key        TEXT PRIMARY KEY,
	issue      INTEGER NOT NULL,
	kind       TEXT NOT NULL,
	opened_by  INTEGER NOT NULL,
	channel    TEXT NOT NULL,
	nonce      TEXT NOT NULL,
	message_id TEXT NOT NULL DEFAULT '',
	hash       TEXT NOT NULL DEFAULT '',
	closed     INTEGER NOT NULL DEFAULT 0,
	at         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS agentorg_notices_issue ON agentorg_notices (issue);
CREATE TABLE IF NOT EXISTS agentorg_cursors (
	name     TEXT PRIMARY KEY,
	event_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS agentorg_interactions (
	id      TEXT PRIMARY KEY,
	at      TEXT NOT NULL,
	"user"  TEXT NOT NULL,
	outcome TEXT NOT NULL DEFAULT ''
);`

// Notice is a message sent about an issue. It is recorded before it is
// sent, with the nonce that makes sending it again harmless; MessageID is
// set once the channel said what it became.
type Notice struct {
	Key      string
	Issue    int64
	Kind     string
	OpenedBy int64 // the event that opened it
	Channel  string
	Nonce    string
	// MessageID is the message the notice is ("" until it was sent).
	MessageID string
	// Hash is the digest of what the message shows now: it is edited only
	// when what it should show differs.
	Hash   string
	Closed bool // the issue is closed: the message is final
	At     time.Time
}

const noticeColumns = `key, issue, kind, opened_by, channel, nonce, message_id, hash, closed, at`

func scanNotice(row interface{ Scan(...any) error }) (Notice, error) {
	var n Notice
	var at string
	if err := row.Scan(&n.Key, &n.Issue, &n.Kind, &n.OpenedBy, &n.Channel, &n.Nonce, &n.MessageID, &n.Hash, &n.Closed, &at); err != nil {
		return n, err
	}
	n.At, _ = time.Parse(timeFormat, at)
	return n, nil
}

// AddNotice records a notice about to be sent. It returns the one already
// recorded under the same key, if any, and whether it was new.
func (l *Log) AddNotice(ctx context.Context, n Notice) (Notice, bool, error) {
	if n.At.IsZero() {
		n.At = l.now()
	}
	res, err := l.db.ExecContext(ctx, `INSERT INTO agentorg_notices (`+noticeColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (key) DO NOTHING`,
		n.Key, n.Issue, n.Kind, n.OpenedBy, n.Channel, n.Nonce, n.MessageID, n.Hash, b2i(n.Closed), n.At.UTC().Format(timeFormat))
	if err != nil {
		return n, false, fmt.Errorf("eventlog: notice %s: %w", n.Key, err)
	}
	if k, _ := res.RowsAffected(); k == 1 {
		return n, true, nil
	}
	got, err := scanNotice(l.db.QueryRowContext(ctx, `SELECT `+noticeColumns+` FROM agentorg_notices WHERE key = ?`, n.Key))
	return got, false, err
}

// NoticeSent records the message a notice became and what it shows.
func (l *Log) NoticeSent(ctx context.Context, key, messageID, hash string, closed bool) error {
	_, err := l.db.ExecContext(ctx, `UPDATE agentorg_notices SET message_id = ?, hash = ?, closed = ? WHERE key = ?`, messageID, hash, b2i(closed), key)
	if err != nil {
		return fmt.Errorf("eventlog: notice %s: %w", key, err)
	}
	return nil
}

// Notices returns the notices of an issue that are not final (issue 0:
// of every issue), oldest first; unsent ones included.
func (l *Log) Notices(ctx context.Context, issue int64) ([]Notice, error) {
	q, args := `SELECT `+noticeColumns+` FROM agentorg_notices WHERE closed = 0`, []any{}
	if issue != 0 {
		q += ` AND issue = ?`
		args = append(args, issue)
	}
	return queryAll(ctx, l.db, "notices", scanNotice, q+` ORDER BY opened_by, key`, args...)
}

// NoticeOf returns the notice recorded under key.
func (l *Log) NoticeOf(ctx context.Context, key string) (Notice, bool, error) {
	n, err := scanNotice(l.db.QueryRowContext(ctx, `SELECT `+noticeColumns+` FROM agentorg_notices WHERE key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return n, false, nil
	}
	return n, err == nil, err
}

// Cursor returns where a follower of the event log named name stopped
// (ok false: it never ran).
func (l *Log) Cursor(ctx context.Context, name string) (id int64, ok bool, err error) {
	err = l.db.QueryRowContext(ctx, `SELECT event_id FROM agentorg_cursors WHERE name = ?`, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	return id, err == nil, err
}

// SetCursor records that follower name has handled every event up to id.
func (l *Log) SetCursor(ctx context.Context, name string, id int64) error {
	_, err := l.db.ExecContext(ctx, `INSERT INTO agentorg_cursors (name, event_id) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET event_id = excluded.event_id`, name, id)
	if err != nil {
		return fmt.Errorf("eventlog: cursor %s: %w", name, err)
	}
	return nil
}

// FirstInteraction records that interaction id (from user) is being
// answered; false when it was already: a replayed interaction acts once.
func (l *Log) FirstInteraction(ctx context.Context, id, user string) (bool, error) {
	res, err := l.db.ExecContext(ctx, `INSERT INTO agentorg_interactions (id, at, "user") VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		id, l.now().UTC().Format(timeFormat), user)
	if err != nil {
		return false, fmt.Errorf("eventlog: interaction %s: %w", id, err)
	}
	k, err := res.RowsAffected()
	return k == 1, err
}

// InteractionOutcome records what an interaction came to (shown again to
// whoever replays it).
func (l *Log) InteractionOutcome(ctx context.Context, id, outcome string) error {
	_, err := l.db.ExecContext(ctx, `UPDATE agentorg_interactions SET outcome = ? WHERE id = ?`, text(outcome), id)
	return err
}
