package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/agentorg/agentorg"
)

const commentColumns = "id, issue, author, body, created_at, updated_at"

func scanComment(s scanner) (agentorg.Comment, error) {
	var c agentorg.Comment
	var created, updated string
	err := s.Scan(&c.ID, &c.Issue, &c.Author, &c.Body, &created, &updated)
	if err != nil {
		return c, err
	}
	if c.CreatedAt, err = parseTime(created); err != nil {
		return c, err
	}
	if c.UpdatedAt, err = parseTime(updated); err != nil {
		return c, err
	}
	return c, nil
}

func loadComment(ctx context.Context, tx *sql.Tx, id int64) (agentorg.Comment, error) {
	c, err := scanComment(tx.QueryRowContext(ctx, "SELECT "+commentColumns+" FROM tracker_comments WHERE id = ?", id))
	if err != nil {
		return c, fmt.Errorf("comment %d: %w", id, notFound(err, agentorg.ErrNotFound))
	}
	return c, nil
}

// Comments lists the comments of an issue in the order they were created; an
// upserted comment keeps its place.
func (t *Tracker) Comments(ctx context.Context, issue int64) ([]agentorg.Comment, error) {
	out := []agentorg.Comment{}
	err := t.read(ctx, func(tx *sql.Tx) error {
		if err := issueExists(ctx, tx, issue); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, "SELECT "+commentColumns+" FROM tracker_comments WHERE issue = ? ORDER BY id", issue)
		if err != nil {
			return fmt.Errorf("issue #%d: comments: %w", issue, err)
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanComment(rows)
			if err != nil {
				return fmt.Errorf("issue #%d: comments: %w", issue, err)
			}
			out = append(out, c)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("issue #%d: comments: %w", issue, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AddComment adds a comment and bumps the issue's UpdatedAt, as a forge does,
// so that pollers using UpdatedAfter see new discussion.
func (t *Tracker) AddComment(ctx context.Context, issue int64, body, actor string) (agentorg.Comment, error) {
	if strings.TrimSpace(body) == "" {
		return agentorg.Comment{}, fmt.Errorf("issue #%d: add comment: empty body", issue)
	}
	var out agentorg.Comment
	err := t.write(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = insertComment(ctx, tx, issue, body, actor, t.nowText())
		return err
	})
	return out, err
}

func insertComment(ctx context.Context, tx *sql.Tx, issue int64, body, actor, now string) (agentorg.Comment, error) {
	if err := issueExists(ctx, tx, issue); err != nil {
		return agentorg.Comment{}, err
	}
	var id int64
	err := tx.QueryRowContext(ctx, `INSERT INTO tracker_comments (issue, author, body, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?) RETURNING id`, issue, actor, body, now, now).Scan(&id)
	if err != nil {
		return agentorg.Comment{}, fmt.Errorf("issue #%d: add comment: %w", issue, err)
	}
	if err := touchIssue(ctx, tx, issue, now); err != nil {
		return agentorg.Comment{}, err
	}
	return loadComment(ctx, tx, id)
}

// UpsertComment stores Marker(key) + "\n" + body (or body alone when it
// already holds the marker) in the oldest comment of the issue holding the
// marker, or in a new comment. The lookup and the write share one write
// transaction, which SQLite serialises, so concurrent calls never create two.
// Rewriting an identical body changes nothing, UpdatedAt included. The
// comment keeps its original author.
func (t *Tracker) UpsertComment(ctx context.Context, issue int64, key, body, actor string) (agentorg.Comment, error) {
	// The marker is an HTML comment: a '>' in the key would end it early and
	// StripMarkers would no longer recognise it.
	if key == "" || strings.ContainsAny(key, ">\n") {
		return agentorg.Comment{}, fmt.Errorf("issue #%d: upsert comment: invalid key %q", issue, key)
	}
	marker := agentorg.Marker(key)
	if !strings.Contains(body, marker) {
		body = marker + "\n" + body
	}
	var out agentorg.Comment
	err := t.write(ctx, func(tx *sql.Tx) error {
		if err := issueExists(ctx, tx, issue); err != nil {
			return err
		}
		now := t.nowText()
		var id int64
		var old string
		err := tx.QueryRowContext(ctx, `SELECT id, body FROM tracker_comments
			WHERE issue = ? AND instr(body, ?) > 0 ORDER BY id LIMIT 1`, issue, marker).Scan(&id, &old)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			out, err = insertComment(ctx, tx, issue, body, actor, now)
			return err
		case err != nil:
			return fmt.Errorf("issue #%d: upsert comment: %w", issue, err)
		}
		if old != body {
			if _, err := tx.ExecContext(ctx, "UPDATE tracker_comments SET body = ?, updated_at = ? WHERE id = ?", body, now, id); err != nil {
				return fmt.Errorf("issue #%d: upsert comment: %w", issue, err)
			}
			if err := touchIssue(ctx, tx, issue, now); err != nil {
				return err
			}
		}
		out, err = loadComment(ctx, tx, id)
		return err
	})
	return out, err
}
