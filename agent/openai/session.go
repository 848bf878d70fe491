package openai

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/agentorg/agentorg"
	"github.com/google/uuid"
)

// session is a conversation as stored in StateDir/<id>.json. Messages are
// kept in wire form so that a resume sends exactly what the model saw.
type session struct {
	ID       string    `json:"id"`
	Model    string    `json:"model"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
	Runs     int       `json:"runs"`
	Messages []message `json:"messages"`
	// Usage is what all runs of the session consumed, summed.
	Usage agentorg.Usage `json:"usage"`
}

func (a *Agent) sessionPath(id string) string {
	return filepath.Join(a.cfg.StateDir, id+".json")
}

// loadSession reads a stored session. The id must be a UUID, which also
// keeps it from naming a file outside StateDir.
func (a *Agent) loadSession(id string) (*session, error) {
	u, err := uuid.Parse(id)
	if err != nil || u.String() != id {
		return nil, fmt.Errorf("openai agent: session id %q is not one this agent made (want a UUID like %s)", id, uuid.Nil)
	}
	path := a.sessionPath(id)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("openai agent: session %s not found: no file %s", id, path)
	}
	if err != nil {
		return nil, fmt.Errorf("openai agent: session %s: %w", id, err)
	}
	var s session
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("openai agent: session file %s is corrupt: %v", path, err)
	}
	if s.ID != id {
		return nil, fmt.Errorf("openai agent: session file %s is corrupt: it holds session %q", path, s.ID)
	}
	if len(s.Messages) == 0 {
		return nil, fmt.Errorf("openai agent: session file %s is corrupt: no messages", path)
	}
	return &s, nil
}

// save writes the session atomically: a reader (or a crash) sees the old
// file or the new one, never half of one.
func (a *Agent) save(s *session) error {
	s.Updated = time.Now().UTC()
	data, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return fmt.Errorf("openai agent: encode session %s: %w", s.ID, err)
	}
	if err := os.MkdirAll(a.cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("openai agent: state directory: %w", err)
	}
	f, err := os.CreateTemp(a.cfg.StateDir, "."+s.ID+".*.tmp")
	if err != nil {
		return fmt.Errorf("openai agent: save session %s: %w", s.ID, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, a.sessionPath(s.ID))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("openai agent: save session %s: %w", s.ID, err)
	}
	return nil
}
