package app

import (
	"path/filepath"
	"reflect"
	"testing"
)

// What a run of a home may not read: the home, a local origin (a path or
// a file:// URL, never a remote one), the humans' credentials and the
// operator's ssh-agent, the other homes; the mirror's objects stay
// readable.
func TestConfinementHidesTheHomeTheLocalOriginAndCredentials(t *testing.T) {
	env := map[string]string{"HOME": "/home/op", "XDG_CONFIG_HOME": "/home/op/.xdg", "SSH_AUTH_SOCK": "/tmp/ssh-x/agent.1"}
	private := PrivateDirs(func(k string) string { return env[k] })
	if want := []string{"/tmp/ssh-x/agent.1", "/home/op/.xdg/agentorg", "/home/op/.config/agentorg", "/home/op/.local/state/agentorg/homes"}; !reflect.DeepEqual(private, want) {
		t.Fatalf("private %v, want %v", private, want)
	}
	env["XDG_STATE_HOME"] = "/var/op"
	if got := PrivateDirs(func(k string) string { return env[k] }); got[len(got)-1] != "/var/op/agentorg/homes" {
		t.Fatalf("private with XDG_STATE_HOME %v", got)
	}
	for origin, want := range map[string][]string{
		"/work/repo":                     {"/srv/home", "/work/repo", "/x"},
		"file:///srv/origin.git":         {"/srv/home", "/srv/origin.git", "/x"},
		"https://gitlab.example.com/g/p": {"/srv/home", "/x"},
		"git@gitlab.example.com:g/p.git": {"/srv/home", "/x"},
		"":                               {"/srv/home", "/x"},
	} {
		c := Confinement("/srv/home", origin, []string{"/x"})
		if !reflect.DeepEqual(c.Hidden, want) {
			t.Errorf("origin %q: hidden %v, want %v", origin, c.Hidden, want)
		}
		if want := []string{filepath.Join("/srv/home", "mirror.git", "objects")}; !reflect.DeepEqual(c.Readable, want) {
			t.Errorf("readable %v", c.Readable)
		}
	}
}
