package opencode

import (
	"errors"
	"strings"
	"testing"

	"github.com/agentorg/agentorg"
)

func wantAgentErr(t *testing.T, err error, substrs ...string) {
	t.Helper()
	if !errors.Is(err, agentorg.ErrAgent) {
		t.Fatalf("error %v does not wrap ErrAgent", err)
	}
	for _, s := range substrs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
}
