package eventlog

import (
	"context"
	"testing"

	"github.com/agentorg/agentorg/store"
	"github.com/agentorg/agentorg/store/storetest"
)

// openLog opens a fresh, migrated log on a database of dialect d.
func openLog(t testing.TB, d store.Dialect) *Log {
	t.Helper()
	l := New(storetest.Open(t, d).SQL)
	if l.dialect != d {
		t.Fatalf("New: dialect %v, want %v", l.dialect, d)
	}
	if err := l.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return l
}

// eachLog runs f as a subtest per dialect, each with a fresh log.
func eachLog(t *testing.T, f func(t *testing.T, l *Log)) {
	t.Helper()
	for _, d := range storetest.Dialects {
		t.Run(d.String(), func(t *testing.T) { f(t, openLog(t, d)) })
	}
}
