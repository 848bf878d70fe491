package engine_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/agentorg/agentorg/engine"
	"github.com/agentorg/agentorg/sqlitedb"
)

// status reads claims on homes where no engine ever ran: nothing runs there.
func TestClaimsOfAHomeWithoutAnEngine(t *testing.T) {
	db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "agentorg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	claims, err := engine.Claims(context.Background(), db)
	if err != nil || len(claims) != 0 {
		t.Fatalf("claims without a claims table: %+v, %v; want none and no error", claims, err)
	}
}
