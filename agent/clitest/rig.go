package clitest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// GitRepo makes a repository on branch main with one empty commit, as
// agentorg's worktrees are, for a real CLI to work in.
func GitRepo(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "init"},
	} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return dir
}

// LiveInGroup lists the processes of group pgid that are not zombies,
// giving them a few seconds to die: after a run was stopped, none of the
// CLI's processes may outlive it.
func LiveInGroup(pgid int) []string {
	var live []string
	for range 50 {
		live = live[:0]
		stats, _ := filepath.Glob("/proc/[0-9]*/stat")
		for _, p := range stats {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			// pid (comm) state ppid pgrp ...; comm may hold spaces.
			s := string(b)
			i := strings.LastIndexByte(s, ')')
			if i < 0 {
				continue
			}
			f := strings.Fields(s[i+1:])
			if len(f) < 3 || f[0] == "Z" || f[2] != strconv.Itoa(pgid) {
				continue
			}
			live = append(live, s[:i+1])
		}
		if len(live) == 0 {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return live
}
