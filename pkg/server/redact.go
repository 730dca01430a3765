package server

import (
	"encoding/base64"
	"net/url"
	"strings"
	"sync"
)

// redactor replaces known secrets, in the encodings they travel in, with "***" in everything
// the server writes: responses, feed lines and logs. The gates already keep tokens out of their
// messages; this is the second line.
type redactor struct {
	mu      sync.RWMutex
	secrets []string
}

// minRedact ignores short strings: replacing "ab" everywhere would garble output and protect
// nothing.
const minRedact = 6

func newRedactor(secrets ...string) *redactor {
	r := &redactor{}
	for _, s := range secrets {
		r.add(s)
	}
	return r
}

func (r *redactor) add(secret string) {
	secret = strings.TrimSpace(secret)
	if len(secret) < minRedact {
		return
	}
	forms := []string{
		secret,
		base64.StdEncoding.EncodeToString([]byte(":" + secret)),
		base64.StdEncoding.EncodeToString([]byte(secret)),
		url.QueryEscape(secret),
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range forms {
		dup := false
		for _, have := range r.secrets {
			if have == f {
				dup = true
				break
			}
		}
		if !dup {
			r.secrets = append(r.secrets, f)
		}
	}
}

func (r *redactor) redact(s string) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, sec := range r.secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	return s
}
