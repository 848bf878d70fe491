package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/agentorg/agentorg"
)

var _ agentorg.ReviewThreads = (*Tracker)(nil)

// Threads lists the review threads of a merge request with their notes.
func (t *Tracker) Threads(ctx context.Context, mr int64) ([]agentorg.ReviewThread, error) {
	out := []agentorg.ReviewThread{}
	err := t.read(ctx, func(tx *sql.Tx) error {
		if _, err := loadMR(ctx, tx, mr); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, path, line, resolved_by FROM tracker_review_threads WHERE mr = ? ORDER BY id`, mr)
		if err != nil {
			return fmt.Errorf("merge request !%d: threads: %w", mr, err)
		}
		index := map[int64]int{}
		for rows.Next() {
			var id int64
			th := agentorg.ReviewThread{MR: mr, Notes: []agentorg.ReviewNote{}}
			if err := rows.Scan(&id, &th.Path, &th.Line, &th.ResolvedBy); err != nil {
				rows.Close()
				return err
			}
			th.ID, th.Resolved = strconv.FormatInt(id, 10), th.ResolvedBy != ""
			index[id] = len(out)
			out = append(out, th)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = tx.QueryContext(ctx, `SELECT n.thread, n.id, n.author, n.body, n.created_at FROM tracker_review_notes n
			JOIN tracker_review_threads t ON t.id = n.thread WHERE t.mr = ? ORDER BY n.id`, mr)
		if err != nil {
			return fmt.Errorf("merge request !%d: notes: %w", mr, err)
		}
		defer rows.Close()
		for rows.Next() {
			var thread int64
			var n agentorg.ReviewNote
			var at string
			if err := rows.Scan(&thread, &n.ID, &n.Author, &n.Body, &at); err != nil {
				return err
			}
			if n.CreatedAt, err = parseTime(at); err != nil {
				return err
			}
			if i, ok := index[thread]; ok {
				out[i].Notes = append(out[i].Notes, n)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// StartThread opens a thread with its first note.
func (t *Tracker) StartThread(ctx context.Context, mr int64, in agentorg.NewReviewThread) (agentorg.ReviewThread, error) {
	if strings.TrimSpace(in.Body) == "" {
		return agentorg.ReviewThread{}, fmt.Errorf("merge request !%d: start thread: empty body", mr)
	}
	if (in.Path == "") != (in.Line == 0) || in.Line < 0 {
		return agentorg.ReviewThread{}, fmt.Errorf("merge request !%d: start thread: a position needs both a file and a line (>= 1), got %q line %d", mr, in.Path, in.Line)
	}
	var id int64
	err := t.write(ctx, func(tx *sql.Tx) error {
		if _, err := loadMR(ctx, tx, mr); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO tracker_review_threads (mr, path, line) VALUES (?, ?, ?) RETURNING id`, mr, in.Path, in.Line).Scan(&id)
		if err != nil {
			return fmt.Errorf("merge request !%d: start thread: %w", mr, err)
		}
		return t.insertNote(ctx, tx, mr, id, in.Body, in.Author)
	})
	if err != nil {
		return agentorg.ReviewThread{}, err
	}
	return t.thread(ctx, mr, strconv.FormatInt(id, 10))
}

func (t *Tracker) insertNote(ctx context.Context, tx *sql.Tx, mr, thread int64, body, author string) error {
	now := t.nowText()
	if _, err := tx.ExecContext(ctx, `INSERT INTO tracker_review_notes (thread, author, body, created_at) VALUES (?, ?, ?, ?)`,
		thread, author, body, now); err != nil {
		return fmt.Errorf("merge request !%d: note: %w", mr, err)
	}
	// New discussion is activity, as on a forge.
	_, err := tx.ExecContext(ctx, `UPDATE tracker_merge_requests SET updated_at = ? WHERE number = ?`, now, mr)
	return err
}

func threadID(mr int64, thread string) (int64, error) {
	id, err := strconv.ParseInt(thread, 10, 64)
	if err != nil || id < 1 {
		return 0, fmt.Errorf("merge request !%d: thread %q: %w", mr, thread, agentorg.ErrNotFound)
	}
	return id, nil
}

func threadExists(ctx context.Context, tx *sql.Tx, mr, id int64) (string, error) {
	var resolvedBy string
	err := tx.QueryRowContext(ctx, `SELECT resolved_by FROM tracker_review_threads WHERE id = ? AND mr = ?`, id, mr).Scan(&resolvedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("merge request !%d: thread %d: %w", mr, id, agentorg.ErrNotFound)
	}
	return resolvedBy, err
}

// Reply appends a note to a thread.
func (t *Tracker) Reply(ctx context.Context, mr int64, thread, body, actor string) (agentorg.ReviewNote, error) {
	if strings.TrimSpace(body) == "" {
		return agentorg.ReviewNote{}, fmt.Errorf("merge request !%d: reply: empty body", mr)
	}
	id, err := threadID(mr, thread)
	if err != nil {
		return agentorg.ReviewNote{}, err
	}
	var note agentorg.ReviewNote
	err = t.write(ctx, func(tx *sql.Tx) error {
		if _, err := threadExists(ctx, tx, mr, id); err != nil {
			return err
		}
		if err := t.insertNote(ctx, tx, mr, id, body, actor); err != nil {
			return err
		}
		var at string
		if err := tx.QueryRowContext(ctx, `SELECT id, author, body, created_at FROM tracker_review_notes WHERE thread = ? ORDER BY id DESC LIMIT 1`, id).
			Scan(&note.ID, &note.Author, &note.Body, &at); err != nil {
			return err
		}
		note.CreatedAt, err = parseTime(at)
		return err
	})
	return note, err
}

// ResolveThread resolves (or reopens) a thread; doing what is already done
// changes nothing.
func (t *Tracker) ResolveThread(ctx context.Context, mr int64, thread string, resolved bool, actor string) (agentorg.ReviewThread, error) {
	id, err := threadID(mr, thread)
	if err != nil {
		return agentorg.ReviewThread{}, err
	}
	err = t.write(ctx, func(tx *sql.Tx) error {
		by, err := threadExists(ctx, tx, mr, id)
		if err != nil || (by != "") == resolved {
			return err
		}
		if !resolved {
			actor = ""
		} else if actor == "" {
			return fmt.Errorf("merge request !%d: resolve thread %d: no actor", mr, id)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tracker_review_threads SET resolved_by = ? WHERE id = ?`, actor, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE tracker_merge_requests SET updated_at = ? WHERE number = ?`, t.nowText(), mr)
		return err
	})
	if err != nil {
		return agentorg.ReviewThread{}, err
	}
	return t.thread(ctx, mr, thread)
}

func (t *Tracker) thread(ctx context.Context, mr int64, id string) (agentorg.ReviewThread, error) {
	ts, err := t.Threads(ctx, mr)
	if err != nil {
		return agentorg.ReviewThread{}, err
	}
	for _, th := range ts {
		if th.ID == id {
			return th, nil
		}
	}
	return agentorg.ReviewThread{}, fmt.Errorf("merge request !%d: thread %s: %w", mr, id, agentorg.ErrNotFound)
}
