package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// On the embedded tracker --as is not an identity: a process without
// alice's credential (an agent: confinement hides the people's
// credentials files from it) cannot open issues, approve, move labels or
// comment as alice, and nothing it tried is recorded; alice, with hers,
// can, and her events say how she was identified. (docs/lifecycle.md I15)
func TestActingAsSomeoneNeedsTheirCredential(t *testing.T) {
	home := copyHome(t)
	dir := t.TempDir()
	alice := []string{"AGENTORG_CREDENTIALS=" + filepath.Join(dir, "alice.json")}
	agent := []string{"AGENTORG_CREDENTIALS=" + filepath.Join(dir, "agent.json")}

	// alice is the first the workflow names to act in this home: enrolled.
	r := run(t, dir, alice, "--home", home, "label", "add", "3", "dev:done", "--as", "alice")
	if r.code != 0 || !strings.Contains(r.stderr, "alice is the first person enrolled in this home") {
		t.Fatalf("alice's first action: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	before := len(events(t, home))
	for _, args := range [][]string{
		{"approve", "3", "--as", "alice"},
		{"label", "add", "3", "mr:approved", "--as", "alice"},
		{"issue", "new", "--title", "Forged", "--opt-in", "--as", "alice"},
		{"mr", "comment", "1", "--as", "alice", "Looks good."},
		{"user", "add", "mallory", "--as", "alice"},
	} {
		r := run(t, dir, agent, append([]string{"--home", home}, args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, "acting as alice needs alice's credential") {
			t.Errorf("%v without alice's credential: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
	if r := run(t, dir, agent, "--home", home, "approve", "3", "--as", "mallory"); r.code == 0 || !strings.Contains(r.stderr, "mallory") {
		t.Errorf("mallory, not enrolled: exit %d\n%s", r.code, r.stderr)
	}
	if after := len(events(t, home)); after != before {
		t.Fatalf("refused actions were recorded: %d events, then %d", before, after)
	}
	evs := events(t, home)
	last := evs[len(evs)-1]
	if last.Kind != "human" || last.Actor != "alice" || last.To != "dev:done" || last.Data["identity"] != "credential" {
		t.Fatalf("alice's label change is recorded as %+v", last)
	}
}

type cliEvent struct {
	Kind, Actor, To string
	Data            map[string]string
}

func events(t *testing.T, home string) []cliEvent {
	t.Helper()
	r := run(t, t.TempDir(), nil, "--home", home, "events", "--json", "--issue", "3")
	var evs []cliEvent
	if err := json.Unmarshal([]byte(r.stdout), &evs); err != nil {
		t.Fatalf("events --json: %v\n%s", err, r.stdout)
	}
	return evs
}
