package housekeep

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/agentorg/agentorg/homedir"
	"github.com/agentorg/agentorg/sample"
	"github.com/agentorg/agentorg/store"
)

// vacuum gives the room the removed rows took back to the file system
// (VACUUM rewrites the database; then the WAL is emptied into it).
func vacuum(ctx context.Context, s Sources, o Options, before int64, w io.Writer) error {
	if store.DialectOf(s.DB) == store.Postgres {
		// A shared server's room is its administrator's: PostgreSQL's
		// autovacuum reuses what the removed rows took.
		fmt.Fprintf(w, "  %-16s on PostgreSQL: left to the server's autovacuum\n", "database")
		return nil
	}
	if o.DryRun {
		fmt.Fprintf(w, "  %-16s %s now; VACUUM would give back the room of the rows removed\n", "database", size(before))
		return nil
	}
	if _, err := s.DB.ExecContext(ctx, "VACUUM"); err != nil {
		return fmt.Errorf("gc: vacuum the database: %w", err)
	}
	if _, err := s.DB.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return fmt.Errorf("gc: checkpoint the database: %w", err)
	}
	fmt.Fprintf(w, "  %-16s %s -> %s  (VACUUM)\n", "database", size(before), size(dbSize(s.Home)))
	return nil
}

// dbSize is the database's bytes on disk, its WAL included.
func dbSize(home string) int64 {
	var n int64
	for _, p := range []string{homedir.DB(home), homedir.DB(home) + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// packAll packs the loose objects of the mirror and of an origin agentorg
// made (git gc: reachable objects into a pack, unreachable ones past
// git's grace period pruned). A user's own repository is left alone.
func packAll(ctx context.Context, s Sources, o Options, w io.Writer) error {
	if s.Mirror != nil {
		if err := pack(ctx, "mirror", s.Mirror.Dir, o.DryRun, w); err != nil {
			return err
		}
	}
	if s.Origin == "" {
		fmt.Fprintf(w, "  %-16s left alone (not a bare repository agentorg made)\n", "origin")
		return nil
	}
	return pack(ctx, "origin", s.Origin, o.DryRun, w)
}

func pack(ctx context.Context, what, dir string, dryRun bool, w io.Writer) error {
	b, err := countObjects(ctx, dir)
	if err != nil {
		return err
	}
	if dryRun {
		fmt.Fprintf(w, "  %-16s %s; git gc would pack the loose objects\n", what, b)
		return nil
	}
	if out, err := exec.CommandContext(ctx, "git", "-C", dir, "gc", "--quiet").CombinedOutput(); err != nil {
		return fmt.Errorf("gc: git gc in %s: %v: %s", dir, err, strings.TrimSpace(string(out)))
	}
	a, err := countObjects(ctx, dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  %-16s %s -> %s  (git gc)\n", what, b, a)
	return nil
}

// objects are git count-objects -v's figures.
type objects struct {
	loose, looseBytes, packs, packBytes int64
}

func (c objects) String() string {
	return fmt.Sprintf("%d loose objects (%s), %d pack(s) (%s)", c.loose, size(c.looseBytes), c.packs, size(c.packBytes))
}

func countObjects(ctx context.Context, dir string) (objects, error) {
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "count-objects", "-v").Output()
	if err != nil {
		return objects{}, fmt.Errorf("gc: git count-objects in %s: %w", dir, err)
	}
	var c objects
	for _, l := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(l, ": ")
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch k {
		case "count":
			c.loose = n
		case "size":
			c.looseBytes = n << 10
		case "packs":
			c.packs = n
		case "size-pack":
			c.packBytes = n << 10
		}
	}
	return c, nil
}

// MadeOrigin reports whether origin is a bare repository on this machine
// that agentorg made (sample.MadeKey set: the demo's, the benchmark's),
// which gc may pack.
func MadeOrigin(ctx context.Context, origin string) bool {
	if origin == "" || strings.Contains(origin, "://") {
		return false
	}
	out, err := exec.CommandContext(ctx, "git", "-C", origin, "config", "--bool", "--get", sample.MadeKey).Output()
	if err != nil || strings.TrimSpace(string(out)) != "true" {
		return false
	}
	out, err = exec.CommandContext(ctx, "git", "-C", origin, "rev-parse", "--is-bare-repository").Output()
	return err == nil && strings.TrimSpace(string(out)) == "true"
}
