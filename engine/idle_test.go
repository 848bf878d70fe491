package engine

import (
	"strings"
	"testing"

	"github.com/riverqueue/river/rivertype"
)

// The idle query names every unfinished state River has, spelled as River
// stores them.
func TestIdleQueryNamesRiversUnfinishedStates(t *testing.T) {
	for _, s := range []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled} {
		if !strings.Contains(idleQuery, "'"+string(s)+"'") {
			t.Errorf("idleQuery lacks %q", s)
		}
	}
}
