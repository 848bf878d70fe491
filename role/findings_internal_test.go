package role

import (
	"testing"

	"github.com/agentorg/agentorg/check"
)

// A failing check's key names what failed, not the noise around it: the
// same failing test gives one key whether the other packages were cached
// or timed, and whichever checkout it ran in; another failure, another key.
func TestCheckFindingKeysAreStableAcrossNoise(t *testing.T) {
	run1 := `ok  	example.com/x/a	(cached)
--- FAIL: TestSub (0.00s)
    sub_test.go:9: Sub(5, 3) = 8, want 2
FAIL
FAIL	example.com/x/calc	0.004s
ok  	example.com/x/b	0.113s
FAIL
`
	run2 := `ok  	example.com/x/a	0.021s
--- FAIL: TestSub (0.01s)
    sub_test.go:9: Sub(5, 3) = 8, want 2
FAIL
FAIL	example.com/x/calc	0.007s
ok  	example.com/x/b	(cached)
FAIL
`
	other := `--- FAIL: TestMul (0.00s)
FAIL
FAIL	example.com/x/calc	0.004s
FAIL
`
	vet1 := "# example.com/x/calc\n/home/h/checkouts/slots/slot-3k2j/old.go:6:2: self-assignment of x to x\n"
	vet2 := "# example.com/x/calc\n/home/h/checkouts/slots/slot-9zz1/old.go:9:2: self-assignment of x to x\n"

	key := func(out string) string {
		return checkFinding(check.Result{Name: "test", Reason: "exit status 1", Output: out}, "").Key
	}
	if key(run1) != key(run2) {
		t.Fatalf("one failure, two keys: %s, %s", key(run1), key(run2))
	}
	if key(run1) == key(other) {
		t.Fatal("two failures, one key")
	}
	if key(vet1) != key(vet2) {
		t.Fatalf("a vet message moved by a line and run in another slot: %s, %s", key(vet1), key(vet2))
	}
	for _, c := range []struct{ output, want string }{
		{run1, "package example.com/x/calc\ntest TestSub"},
		{vet1, "file old.go: self-assignment of x to x"},
		{"make: *** [test] Error 2\n", ""},
	} {
		got := ""
		for i, n := range failureNames(c.output, "") {
			if i > 0 {
				got += "\n"
			}
			got += n
		}
		if got != c.want {
			t.Errorf("failureNames(%q) = %q, want %q", c.output, got, c.want)
		}
	}
}

// A change that fails a red check the same way is the target's failure; one
// that adds a failure of its own is not.
func TestSameFailure(t *testing.T) {
	target := check.Result{Name: "test", Reason: "exit status 1", Output: "FAIL\texample.com/x/old\t0.01s\n--- FAIL: TestOld (0.00s)\n"}
	same := check.Result{Name: "test", Reason: "exit status 1", Output: "--- FAIL: TestOld (0.02s)\nok  \texample.com/x/new\t(cached)\nFAIL\texample.com/x/old\t0.03s\n"}
	more := check.Result{Name: "test", Reason: "exit status 1", Output: same.Output + "--- FAIL: TestNew (0.00s)\nFAIL\texample.com/x/new\t0.01s\n"}
	opaque := check.Result{Name: "lint", Reason: "exit status 2", Output: "lint found 3 problems\n"}
	if !sameFailure(same, target, "") {
		t.Error("the same failing test, with noise around it, is not the same failure")
	}
	if sameFailure(more, target, "") {
		t.Error("a new failing test was taken for the target's")
	}
	if !sameFailure(opaque, opaque, "") || sameFailure(check.Result{Name: "lint", Reason: "exit status 2", Output: "lint found a new kind of problem\n"}, opaque, "") {
		t.Error("an output with no names is compared whole")
	}
}
