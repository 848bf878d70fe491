package role

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentorg/agentorg/check"
	"github.com/agentorg/agentorg/eventlog"
	"github.com/agentorg/agentorg/proc"
	"github.com/agentorg/agentorg/sqlitedb"
)

// A pass cached before check.Run failed runs that ran no test is not
// reused: the check runs again and its new outcome is what the cache keeps.
func TestCacheDoesNotReuseResultsJudgedBefore(t *testing.T) {
	ctx := context.Background()
	db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "agentorg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	log := eventlog.New(db)
	if err := log.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// What go test prints when -run names a test that does not exist.
	c := check.Check{Name: "criterion: go test ./calc/ -run TestNew", Run: `printf 'ok  \texample.com/calc\t0.003s [no tests to run]\n'`}
	const tree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
	// The digest as it was before checkJudgement.
	old := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%s", c.Name, c.Run, c.Timeout)))
	if err := log.CacheCheck(ctx, tree, hex.EncodeToString(old[:]), eventlog.CheckRun{Passed: true}); err != nil {
		t.Fatal(err)
	}
	cr := checkRunner{d: &Deps{Log: log, CheckEnv: proc.BaseEnv()}, tree: tree, dir: t.TempDir(), log: io.Discard}
	for i, wantCached := range []bool{false, true} {
		res, err := cr.run(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if res.Cached != wantCached || res.Passed || !strings.HasPrefix(res.Reason, "ran no tests: go test ran no test in example.com/calc") {
			t.Fatalf("run %d: cached %v, passed %v, reason %q", i+1, res.Cached, res.Passed, res.Reason)
		}
	}
}
