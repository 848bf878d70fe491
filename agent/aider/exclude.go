package aider

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// excluded are the files aider keeps in the worktree: the conversation that
// makes resume possible, and its caches. None of them is the agent's work.
var excluded = []string{"/" + ChatHistoryFile, "/" + InputHistoryFile, "/.aider.tags.cache.v*/"}

// excludeFromCommits lists aider's own files in the repository's
// info/exclude, so that committing "exactly what the agent changed" never
// picks them up. A directory that is not in a git repository is left alone.
func excludeFromCommits(ctx context.Context, dir string) error {
	cmd := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "--git-path", "info/exclude")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "GIT_CONFIG_NOSYSTEM=1", "HOME=" + os.TempDir()}
	out, err := cmd.Output()
	if err != nil {
		return nil // not a git work tree: nothing would commit these files
	}
	path := strings.TrimSpace(string(out))
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	have, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	var add []string
	for _, p := range excluded {
		if !bytes.Contains(have, []byte("\n"+p+"\n")) && !bytes.HasPrefix(have, []byte(p+"\n")) {
			add = append(add, p)
		}
	}
	if len(add) == 0 {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	text := "# aider's own files (agentorg)\n" + strings.Join(add, "\n") + "\n"
	if len(have) > 0 && !bytes.HasSuffix(have, []byte("\n")) {
		text = "\n" + text
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
