package dblock_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentorg/agentorg/dblock"
)

// must is how long a test waits for what must happen: long, since the
// machines that run the tests are shared and slow at times.
const must = 30 * time.Second

// blockedFor is how long a test watches a Lock to show that it waits. A
// Lock that returns sooner fails the test; one that would return later only
// goes unnoticed, so this bounds no pass, only how much a run shows.
const blockedFor = 200 * time.Millisecond

// result is what a Lock returned.
type result struct {
	unlock func()
	err    error
}

// lockAsync starts l.Lock(ctx, name) and returns where its result comes.
func lockAsync(ctx context.Context, l dblock.Locker, name string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		unlock, err := l.Lock(ctx, name)
		ch <- result{unlock, err}
	}()
	return ch
}

// lock takes name on l, failing the test when that takes longer than must.
func lock(t *testing.T, l dblock.Locker, name string) func() {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), must)
	defer cancel()
	unlock, err := l.Lock(ctx, name)
	if err != nil {
		t.Fatalf("Lock(%q): %v", name, err)
	}
	return unlock
}

// waitsFor checks that the Lock behind ch has not returned yet.
func waitsFor(t *testing.T, ch <-chan result, what string) {
	t.Helper()
	select {
	case r := <-ch:
		if r.unlock != nil {
			r.unlock()
		}
		t.Fatalf("%s returned while the lock was held (error %v)", what, r.err)
	case <-time.After(blockedFor):
	}
}

// acquired waits for the Lock behind ch to hold the lock.
func acquired(t *testing.T, ch <-chan result, what string) func() {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("%s: %v", what, r.err)
		}
		return r.unlock
	case <-time.After(must):
		t.Fatalf("%s did not get the lock in %s", what, must)
	}
	return nil
}

// testLocker is the contract every Locker keeps. a and b share their locks
// (two processes on one database, or one process's Local twice).
func testLocker(t *testing.T, a, b dblock.Locker) {
	t.Run("Excludes", func(t *testing.T) {
		unlockA := lock(t, a, "excl")
		ch := lockAsync(context.Background(), b, "excl")
		waitsFor(t, ch, "b's Lock")
		unlockA()
		unlockB := acquired(t, ch, "b's Lock after a's unlock")
		ch = lockAsync(context.Background(), a, "excl")
		waitsFor(t, ch, "a's second Lock")
		unlockB()
		acquired(t, ch, "a's second Lock after b's unlock")()
	})

	t.Run("NamesAreIndependent", func(t *testing.T) {
		unlockA := lock(t, a, "one")
		defer unlockA()
		lock(t, b, "two")()
		lock(t, a, "three")()
	})

	t.Run("CancelWhileWaiting", func(t *testing.T) {
		unlockA := lock(t, a, "cancel")
		ctx, cancel := context.WithCancel(context.Background())
		ch := lockAsync(ctx, b, "cancel")
		waitsFor(t, ch, "b's Lock")
		cancel()
		select {
		case r := <-ch:
			if r.err == nil || !errors.Is(r.err, context.Canceled) {
				if r.unlock != nil {
					r.unlock()
				}
				t.Fatalf("a Lock whose ctx was cancelled while waiting returned %v, want context.Canceled", r.err)
			}
			if r.unlock != nil {
				t.Fatal("a Lock that failed returned an unlock function")
			}
		case <-time.After(must):
			t.Fatalf("a Lock did not return in %s after its ctx was cancelled", must)
		}
		unlockA()
		// The abandoned wait holds nothing: b, then a, take the lock.
		unlockB := lock(t, b, "cancel")
		ch = lockAsync(context.Background(), a, "cancel")
		waitsFor(t, ch, "a's Lock while b holds")
		unlockB()
		acquired(t, ch, "a's Lock after b's unlock")()
	})

	t.Run("EndedContext", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		unlock, err := a.Lock(ctx, "free")
		if !errors.Is(err, context.Canceled) || unlock != nil {
			if unlock != nil {
				unlock()
			}
			t.Fatalf("Lock with an ended ctx returned %v, want context.Canceled and no unlock", err)
		}
		lock(t, b, "free")()
	})

	t.Run("UnlockTwice", func(t *testing.T) {
		unlockA := lock(t, a, "twice")
		unlockA()
		unlockB := lock(t, b, "twice")
		unlockA() // must not release b's lock
		ch := lockAsync(context.Background(), a, "twice")
		waitsFor(t, ch, "a's Lock after its second unlock, while b holds")
		unlockB()
		acquired(t, ch, "a's Lock after b's unlock")()
	})

	t.Run("NeverTwoHolders", func(t *testing.T) {
		var inside, overlaps atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			l := a
			if i%2 == 1 {
				l = b
			}
			wg.Go(func() {
				for j := range 5 {
					ctx, cancel := context.WithTimeout(context.Background(), must)
					unlock, err := l.Lock(ctx, "crowd")
					cancel()
					if err != nil {
						errs <- fmt.Errorf("worker %d, turn %d: %w", i, j, err)
						return
					}
					if inside.Add(1) > 1 {
						overlaps.Add(1)
					}
					time.Sleep(time.Millisecond)
					inside.Add(-1)
					unlock()
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := overlaps.Load(); n > 0 {
			t.Errorf("%d times a lock was taken while another held it", n)
		}
	})
}

func TestLocal(t *testing.T) {
	l := dblock.Local()
	testLocker(t, l, l)
}

// TestLocalSetsAreSeparate: each Local is a set of locks of its own.
func TestLocalSetsAreSeparate(t *testing.T) {
	unlock := lock(t, dblock.Local(), "x")
	defer unlock()
	lock(t, dblock.Local(), "x")()
}

// TestKey: the key is FNV-64a of "agentorg:"+name, stable across builds.
func TestKey(t *testing.T) {
	if got, want := uint64(dblock.Key("merge:main")), fnv64a("agentorg:merge:main"); got != want {
		t.Errorf("Key(merge:main) = %#x, want %#x", got, want)
	}
	if dblock.Key("merge:main") == dblock.Key("e2e:main") {
		t.Error("merge:main and e2e:main have one key")
	}
}

// fnv64a is FNV-1a, 64 bits, as its specification gives it.
func fnv64a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
