package gitlab

import (
	"encoding/base64"
	"strconv"
)

// GitAuthEnv is the environment that lets git reach the project over HTTPS
// with the token: an http.extraHeader given through GIT_CONFIG_COUNT/KEY/
// VALUE (git 2.31 or later). Give it only to the git commands that talk to
// the origin (workspace.TransportEnv): the token then appears in no argv
// (which any local user can read with ps), in no remote URL or config file,
// and in no agent's environment or worktree.
func GitAuthEnv(token string) []string {
	basic := base64.StdEncoding.EncodeToString([]byte("oauth2:" + token))
	return []string{
		"GIT_CONFIG_COUNT=" + strconv.Itoa(1),
		"GIT_CONFIG_KEY_0=http.extraHeader",
		"GIT_CONFIG_VALUE_0=Authorization: Basic " + basic,
	}
}
