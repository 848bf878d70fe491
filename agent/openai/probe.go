package openai

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/agentorg/agentorg"
)

// probeTimeout bounds the probe when ctx has no earlier deadline.
const probeTimeout = 10 * time.Second

// Probe asks BaseURL+"/models" whether the server is reachable and serves
// the model. Path is the base URL (there is no executable).
func (a *Agent) Probe(ctx context.Context, env []string) agentorg.Probe {
	p := agentorg.Probe{Path: a.cfg.BaseURL, Version: "model " + a.cfg.Model}
	apiKey := ""
	if a.cfg.APIKeyEnv != "" {
		apiKey = getenv(env, a.cfg.APIKeyEnv)
		if apiKey == "" {
			p.Problem = fmt.Sprintf("%s is not set in the agent's environment", a.cfg.APIKeyEnv)
			p.Fix = fmt.Sprintf("pass %s to the agent (the workflow's agent env) with the API key", a.cfg.APIKeyEnv)
			return p
		}
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	url := a.cfg.BaseURL + "/models"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		p.Problem = err.Error()
		return p
	}
	req.Header.Set("Accept", "application/json")
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		p.Problem = fmt.Sprintf("cannot reach %s: %v", url, err)
		p.Fix = "start the model server (e.g. `ollama serve`) or correct base_url"
		return p
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		p.Problem = fmt.Sprintf("GET %s: HTTP %d: %s", url, resp.StatusCode, apiError(body))
		p.Fix = "check the API key"
		if a.cfg.APIKeyEnv == "" {
			p.Fix = "the server wants a key: set api_key_env to the variable that holds it"
		}
		return p
	case resp.StatusCode != http.StatusOK:
		p.Problem = fmt.Sprintf("GET %s: HTTP %d: %s", url, resp.StatusCode, apiError(body))
		p.Fix = "check that base_url points at an OpenAI-compatible API root (it usually ends in /v1)"
		return p
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		p.Problem = fmt.Sprintf("GET %s: not a model list: %v", url, err)
		p.Fix = "check that base_url points at an OpenAI-compatible API root (it usually ends in /v1)"
		return p
	}
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	if !slices.Contains(ids, a.cfg.Model) {
		served := strings.Join(ids, ", ")
		if len(ids) == 0 {
			served = "none"
		}
		p.Problem = fmt.Sprintf("model %q is not served by %s (it serves: %s)", a.cfg.Model, a.cfg.BaseURL, clip(served, 500))
		p.Fix = fmt.Sprintf("fetch the model (for Ollama: `ollama pull %s`) or set model to one the server lists", a.cfg.Model)
	}
	return p
}
