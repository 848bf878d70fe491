package dblock

import (
	"context"
	"sync"
)

// Local returns locks held in this process only: what a home on SQLite
// needs, since one engine runs per home (a file lock elsewhere sees to
// that). Each call returns a separate set of locks; share one Locker for
// the locks to exclude each other.
func Local() Locker { return &local{names: map[string]*slot{}} }

type local struct {
	mu    sync.Mutex
	names map[string]*slot
}

// slot is one name's lock: a channel that holds a value while the lock is
// held, so that a waiter can give up when its context ends (a sync.Mutex
// cannot be waited on that way).
type slot struct {
	held  chan struct{}
	users int // holders and waiters; the slot is dropped at zero
}

func (l *local) Lock(ctx context.Context, name string) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, waiting(name, err)
	}
	s := l.enter(name)
	select {
	case s.held <- struct{}{}:
	case <-ctx.Done():
		l.leave(name, s)
		return nil, waiting(name, ctx.Err())
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			<-s.held
			l.leave(name, s)
		})
	}, nil
}

// enter returns name's slot, counting one more user.
func (l *local) enter(name string) *slot {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.names[name]
	if s == nil {
		s = &slot{held: make(chan struct{}, 1)}
		l.names[name] = s
	}
	s.users++
	return s
}

// leave counts one user of name's slot fewer, and forgets the slot when
// nobody holds or waits for it.
func (l *local) leave(name string, s *slot) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.users--; s.users == 0 {
		delete(l.names, name)
	}
}
