package finding

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Baseline is a file of accepted findings, committed next to the code it covers:
//
//	{"version": 1, "accepted": [{"fingerprint": "...", "rule": "KV009", "path": "infra/app.json",
//	  "justification": "test fixture, not a real key", "expires": "2027-03-31"}]}
//
// An entry accepts the finding with the same fingerprint (and rule, when given) until the end of
// its expiry day, UTC. Lapsed entries stop accepting and say so; entries that match nothing are
// reported as stale so the file does not rot.
type Baseline struct {
	Version  int             `json:"version"`
	Accepted []BaselineEntry `json:"accepted"`
}

// BaselineEntry is one accepted finding.
type BaselineEntry struct {
	Fingerprint   string `json:"fingerprint"`
	Rule          string `json:"rule,omitempty"`
	Path          string `json:"path,omitempty"`
	Justification string `json:"justification"`
	Expires       string `json:"expires,omitempty"`
	expires       time.Time
	line          int
}

// Line is the 1-based line of the entry in its file (0 when unknown).
func (e BaselineEntry) Line() int { return e.line }

const dateLayout = "2006-01-02"

// ParseBaseline reads a baseline file; errors name the file, the line and what was expected.
func ParseBaseline(path string, data []byte) (*Baseline, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var b Baseline
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("%s:%d: baseline is not valid: %w", path, errLine(data, err), err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: baseline has data after the JSON object", path)
	}
	if b.Version != 1 {
		return nil, fmt.Errorf("%s: baseline version %d is not supported; expected \"version\": 1", path, b.Version)
	}
	lines := entryLines(data)
	seen := map[string]int{}
	for i := range b.Accepted {
		e := &b.Accepted[i]
		if i < len(lines) {
			e.line = lines[i]
		}
		at := fmt.Sprintf("%s:%d: accepted[%d]", path, e.line, i)
		e.Fingerprint = strings.TrimSpace(e.Fingerprint)
		if e.Fingerprint == "" {
			return nil, fmt.Errorf("%s: \"fingerprint\" is required", at)
		}
		if strings.TrimSpace(e.Justification) == "" {
			return nil, fmt.Errorf("%s: \"justification\" is required: say why the finding is accepted", at)
		}
		if e.Expires != "" {
			t, err := time.Parse(dateLayout, e.Expires)
			if err != nil {
				return nil, fmt.Errorf("%s: \"expires\" %q is not a date; expected YYYY-MM-DD", at, e.Expires)
			}
			e.expires = t.AddDate(0, 0, 1) // valid through the whole expiry day
		}
		if j, dup := seen[e.Fingerprint]; dup {
			return nil, fmt.Errorf("%s: fingerprint %s is already accepted by accepted[%d]", at, e.Fingerprint, j)
		}
		seen[e.Fingerprint] = i
	}
	return &b, nil
}

// errLine maps a decoder error to a line number.
func errLine(data []byte, err error) int {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 {
		return 1
	}
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return bytes.Count(data[:off], []byte{'\n'}) + 1
}

// entryLines finds the line of each element of "accepted" by walking the tokens.
func entryLines(data []byte) []int {
	dec := json.NewDecoder(bytes.NewReader(data))
	var lines []int
	depth, inAccepted := 0, false
	expectKey := false
	for {
		off := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return lines
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if inAccepted && depth == 2 && t == '{' {
					start := skipSpace(data, int(off))
					lines = append(lines, bytes.Count(data[:start], []byte{'\n'})+1)
				}
				depth++
				if t == '[' && depth == 2 && expectKey {
					inAccepted = true
				}
			case '}', ']':
				depth--
				if depth == 1 {
					inAccepted = false
				}
			}
			expectKey = false
		case string:
			expectKey = depth == 1 && t == "accepted"
		default:
			expectKey = false
		}
	}
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r' || data[i] == ',' || data[i] == ':') {
		i++
	}
	return i
}

// Apply marks the findings the baseline accepts, as of now, and returns entries that matched
// nothing. Fail-closed findings are never accepted.
func (b *Baseline) Apply(now time.Time, r *Report) (stale []BaselineEntry) {
	if b == nil {
		return nil
	}
	index := make(map[string]int, len(b.Accepted))
	for i, e := range b.Accepted {
		index[e.Fingerprint] = i
	}
	used := make([]bool, len(b.Accepted))
	for i := range r.Findings {
		f := &r.Findings[i]
		j, ok := index[f.Fingerprint]
		if !ok || f.FailClosed {
			continue
		}
		e := b.Accepted[j]
		if e.Rule != "" && !strings.EqualFold(e.Rule, f.Rule) {
			continue
		}
		used[j] = true
		f.Accepted = &Acceptance{Justification: e.Justification, Expires: e.Expires}
		if !e.expires.IsZero() && !now.Before(e.expires) {
			f.Accepted.Expired = true
			f.Message += fmt.Sprintf(" (baseline acceptance expired on %s: %s)", e.Expires, e.Justification)
		}
	}
	for j, e := range b.Accepted {
		if !used[j] {
			stale = append(stale, e)
			what := strings.TrimSpace(e.Rule + " " + e.Path)
			if what != "" {
				what = " (" + what + ")"
			}
			r.Notes = append(r.Notes, fmt.Sprintf("stale baseline entry at line %d: fingerprint %s%s matches no finding; remove it", e.line, e.Fingerprint, what))
		}
	}
	return stale
}

// NewBaseline builds a baseline accepting every counted finding of r, for a first adoption
// (stagegate ... --write-baseline). Justifications must be edited by a person.
func NewBaseline(r *Report, justification string, expires time.Time) *Baseline {
	b := &Baseline{Version: 1}
	for _, f := range r.Findings {
		if f.FailClosed || f.Severity == Note {
			continue
		}
		e := BaselineEntry{Fingerprint: f.Fingerprint, Rule: f.Rule, Path: f.Location.Path, Justification: justification}
		if !expires.IsZero() {
			e.Expires = expires.Format(dateLayout)
		}
		b.Accepted = append(b.Accepted, e)
	}
	return b
}
