package finding

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func report(fs ...Finding) *Report {
	return &Report{Title: "Gate", Findings: fs}
}

func TestDecide(t *testing.T) {
	violation := Finding{Rule: "R1", Severity: Error, Fingerprint: "a"}
	warning := Finding{Rule: "R2", Severity: Warning, Fingerprint: "b"}
	note := Finding{Rule: "R3", Severity: Note, Fingerprint: "c"}
	broken := Finding{Rule: "KV000", Severity: Error, FailClosed: true, Fingerprint: "d"}
	accepted := violation
	accepted.Accepted = &Acceptance{Justification: "ok"}
	lapsed := violation
	lapsed.Accepted = &Acceptance{Justification: "ok", Expired: true}
	cases := []struct {
		name string
		r    *Report
		mode Mode
		want Outcome
		msg  string
	}{
		{"clean", report(), Enforce, Passed, "Gate passed: no findings"},
		{"note only", report(note), Enforce, Passed, "Gate passed: no findings"},
		{"violation enforce", report(violation), Enforce, Failed, "Gate failed: 1 violation"},
		{"violation audit", report(violation), Audit, Warned, "Gate passed in audit mode with 1 violation (nothing blocked)"},
		{"warning", report(warning), Enforce, Warned, "Gate passed with 1 warning"},
		{"fail closed in audit", report(broken), Audit, Failed, "Gate failed: 1 item could not be evaluated"},
		{"accepted", report(accepted), Enforce, Passed, "Gate passed: 1 accepted by baseline"},
		{"lapsed acceptance counts", report(lapsed), Enforce, Failed, "Gate failed: 1 violation"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := Decide(c.r, c.mode)
			assert.Equal(t, c.want, v.Outcome)
			assert.Equal(t, c.msg, v.Message)
		})
	}
}

func TestFingerprintStable(t *testing.T) {
	a := Fingerprint("KV009", "infra/app.json", "/parameters/x", "h")
	assert.Len(t, a, 32)
	assert.Equal(t, a, Fingerprint("KV009", "infra/app.json", "/parameters/x", "h"))
	assert.NotEqual(t, a, Fingerprint("KV009", "infra/app.jso", "n/parameters/x", "h"), "parts are delimited")
}

const baselineJSON = `{
  "version": 1,
  "accepted": [
    {"fingerprint": "aaa", "rule": "KV009", "path": "a.json", "justification": "test key", "expires": "2026-12-31"},
    {"fingerprint": "bbb", "justification": "legacy", "expires": "2026-01-01"},
    {"fingerprint": "ccc", "justification": "gone"},
    {"fingerprint": "ddd", "rule": "KV001", "justification": "wrong rule"}
  ]
}`

func TestBaselineApply(t *testing.T) {
	b, err := ParseBaseline("bl.json", []byte(baselineJSON))
	require.NoError(t, err)
	assert.Equal(t, 5, b.Accepted[1].Line())
	r := report(
		Finding{Rule: "KV009", Severity: Error, Fingerprint: "aaa", Message: "m1"},
		Finding{Rule: "KV003", Severity: Error, Fingerprint: "bbb", Message: "m2"},
		Finding{Rule: "KV002", Severity: Error, Fingerprint: "ddd", Message: "m3"},
		Finding{Rule: "KV000", Severity: Error, Fingerprint: "zzz", FailClosed: true},
	)
	now := time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC)
	stale := b.Apply(now, r)
	require.Len(t, stale, 2)
	assert.Equal(t, "ccc", stale[0].Fingerprint)
	assert.Equal(t, "ddd", stale[1].Fingerprint, "a rule mismatch does not accept")
	assert.False(t, r.Findings[0].Counts(), "valid through the expiry day")
	assert.True(t, r.Findings[1].Counts())
	assert.Contains(t, r.Findings[1].Message, "baseline acceptance expired on 2026-01-01: legacy")
	assert.True(t, r.Findings[2].Counts())
	require.Len(t, r.Notes, 2)
	assert.Contains(t, r.Notes[0], "stale baseline entry at line 6: fingerprint ccc matches no finding; remove it")

	b.Apply(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), r)
	assert.True(t, r.Findings[0].Accepted.Expired, "expired the day after")
}

func TestBaselineErrors(t *testing.T) {
	cases := map[string]string{
		`{"version": 1, "accepted": [{"fingerprint": "a"}]}`: `bl.json:1: accepted[0]: "justification" is required`,
		`{"version": 2, "accepted": []}`:                     `version 2 is not supported`,
		"{\"version\": 1,\n \"accepted\": [\n{\"fingerprint\": \"a\", \"justification\": \"j\", \"expires\": \"soon\"}]}": `bl.json:3: accepted[0]: "expires" "soon" is not a date; expected YYYY-MM-DD`,
		"{\"version\": 1,\n\n \"accepted\": [}":      `bl.json:3: baseline is not valid`,
		`{"version": 1, "accepted": [], "extra": 1}`: `unknown field "extra"`,
		`{"version": 1, "accepted": [{"fingerprint":"a","justification":"j"},{"fingerprint":"a","justification":"k"}]}`: `already accepted by accepted[0]`,
	}
	for in, want := range cases {
		_, err := ParseBaseline("bl.json", []byte(in))
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), want)
	}
}

func TestNewBaselineRoundTrip(t *testing.T) {
	r := report(Finding{Rule: "KV009", Severity: Error, Fingerprint: "f1", Location: Location{Path: "x.json"}},
		Finding{Rule: "KV000", Severity: Error, Fingerprint: "f2", FailClosed: true})
	b := NewBaseline(r, "TODO: justify", time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC))
	require.Len(t, b.Accepted, 1)
	assert.Equal(t, "2027-02-01", b.Accepted[0].Expires)
}

func FuzzBaseline(f *testing.F) {
	f.Add([]byte(baselineJSON))
	f.Add([]byte(`{"version":1,"accepted":[]}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBaseline("f.json", data)
		if err != nil {
			return
		}
		r := report(Finding{Rule: "X", Severity: Error, Fingerprint: "aaa"})
		b.Apply(time.Now(), r)
	})
}

func TestSortNaturalLogical(t *testing.T) {
	r := &Report{Checks: []Check{{Name: "a"}, {Name: "b"}}, Findings: []Finding{
		{Rule: "WI001", Check: "b", Location: Location{Logical: "workitem/2"}},
		{Rule: "WI001", Check: "a", Location: Location{Logical: "workitem/14"}},
		{Rule: "WI001", Check: "a", Location: Location{Logical: "workitem/3"}},
		{Rule: "WI001", Check: "a", Location: Location{Logical: "workitem/03x"}},
	}}
	r.Sort()
	var got []string
	for _, f := range r.Findings {
		got = append(got, f.Check+":"+f.Location.Logical)
	}
	assert.Equal(t, []string{"a:workitem/3", "a:workitem/03x", "a:workitem/14", "b:workitem/2"}, got)
}
