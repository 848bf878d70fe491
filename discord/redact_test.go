package discord

import "testing"

// What discordgo and the webhooks' errors say passes the redactor: no
// token, no webhook token, no interaction token.
func TestRedact(t *testing.T) {
	var r redactor
	r.Add("bot-token-0123456789")
	r.Add("short") // too short to be a secret: never replaced
	for in, want := range map[string]string{
		"Authorization: Bot bot-token-0123456789":                                 "Authorization: Bot [redacted]",
		"POST https://discord.com/api/v9/webhooks/123/aBcD-tok_en?wait=true: 500": "POST https://discord.com/api/v9/webhooks/123/[redacted]?wait=true: 500",
		"https://discord.com/api/v9/interactions/987/itok.xyz/callback failed":    "https://discord.com/api/v9/interactions/987/[redacted]/callback failed",
		"https://discord.com/api/v9/webhooks/55/t1/messages/@original":            "https://discord.com/api/v9/webhooks/55/[redacted]/messages/@original",
		"a short word": "a short word",
	} {
		if got := r.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// A button's custom id names what it acts on and what it was bound to.
func TestActionID(t *testing.T) {
	a := actionID{Verb: "approve", Issue: 12, Gate: "merge", Bind: "0123456789abcdef0123456789abcdef01234567"}
	s := a.String()
	if len(s) > 100 {
		t.Fatalf("%q is longer than Discord's 100 characters", s)
	}
	got, err := parseActionID(s)
	if err != nil || got != a {
		t.Fatalf("parse(%q) = %+v, %v", s, got, err)
	}
	for _, bad := range []string{"", "other:approve:1:plan:x", "agentorg:approve:0:plan:x", "agentorg:approve:1:plan"} {
		if _, err := parseActionID(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
