package proc

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MarkVar is the environment variable through which every process Run
// starts under a marked context (and every descendant that keeps its
// environment) carries its mark.
const MarkVar = "AGENTORG_PROC_MARK"

type markKey struct{}

// MarksFindable reports whether KillMarked can read processes' marks here
// (Linux's /proc). Where it cannot, a caller must record process groups.
var MarksFindable = sync.OnceValue(func() bool {
	_, err := os.ReadFile("/proc/self/environ")
	return err == nil
})

// WithMark returns a context under which Run gives its processes the mark.
// A process group id recorded after the start can be lost when the caller
// dies before writing it down; a mark is in the process's environment
// before it runs a single instruction, so KillMarked finds it whenever the
// recording was missed, and finds descendants that left the group too.
func WithMark(ctx context.Context, mark string) context.Context {
	return context.WithValue(ctx, markKey{}, mark)
}

func markOf(ctx context.Context) string {
	m, _ := ctx.Value(markKey{}).(string)
	return m
}

// withMark returns env with MarkVar set to mark (replacing any given).
func withMark(env []string, mark string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if strings.HasPrefix(kv, MarkVar+"=") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, MarkVar+"="+mark)
}

// KillMarked sends SIGKILL to every live process of this user whose
// environment carries a mark for which match holds, and to its process
// group (never this process's own). It scans again until a scan finds
// nothing, so that a child forked during a kill is caught by the next
// scan. It returns how many processes it found, and ok false when /proc
// cannot be read (not Linux): then the caller must fall back on what it
// recorded.
func KillMarked(match func(mark string) bool) (found int, ok bool) {
	self := syscall.Getpgrp()
	seen := map[int]bool{}
	for round := 0; round < 20; round++ {
		pids, ok := marked(match)
		if !ok {
			return len(seen), false
		}
		if len(pids) == 0 {
			return len(seen), true
		}
		for _, pid := range pids {
			seen[pid] = true
			if pgid, err := syscall.Getpgid(pid); err == nil && pgid != self && pgid > 1 {
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
			}
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		// A killed process keeps its environment until it has exited:
		// let it go before the next scan looks again.
		time.Sleep(10 * time.Millisecond)
	}
	return len(seen), true
}

// marked lists the live processes whose mark matches. A zombie's environ
// reads empty, so the dead are not listed.
func marked(match func(string) bool) ([]int, bool) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, false
	}
	self := os.Getpid()
	prefix := []byte(MarkVar + "=")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || len(env) == 0 {
			continue // gone, another user's, a kernel thread or a zombie
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if bytes.HasPrefix(kv, prefix) && match(string(kv[len(prefix):])) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids, true
}
