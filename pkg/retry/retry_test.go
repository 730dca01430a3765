package retry

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAfter(t *testing.T) {
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"5", 5 * time.Second, true},
		{" 0.5 ", 500 * time.Millisecond, true},
		{"0", 0, true},
		{"86400", 24 * time.Hour, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{now.Add(1000 * time.Hour).Format(http.TimeFormat), 24 * time.Hour, true},
		{"", 0, false},
		{"-3", 0, false},
		{"soon", 0, false},
		{"1e9", 0, false},
		{"99999999999", 0, false}, // once overflowed to a negative wait in the plan client
		{"NaN", 0, false},
	}
	for _, tt := range tests {
		got, ok := After(tt.in, now)
		assert.Equal(t, tt.ok, ok, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
}

func TestBackoff(t *testing.T) {
	base, limit := 100*time.Millisecond, 2*time.Second
	for _, tt := range []struct {
		attempt  int
		min, max time.Duration
	}{
		{1, 50 * time.Millisecond, 100 * time.Millisecond},
		{2, 100 * time.Millisecond, 200 * time.Millisecond},
		{4, 400 * time.Millisecond, 800 * time.Millisecond},
		{5, 800 * time.Millisecond, 1600 * time.Millisecond},
		{6, time.Second, 2 * time.Second}, // 3.2 s, capped at 2 s
		{1000, time.Second, 2 * time.Second},
		{0, 50 * time.Millisecond, 100 * time.Millisecond},
	} {
		for range 50 {
			d := Backoff(tt.attempt, base, limit)
			assert.True(t, d >= tt.min && d <= tt.max, "attempt %d: %v not in [%v, %v]", tt.attempt, d, tt.min, tt.max)
		}
	}
	assert.Equal(t, time.Duration(1), Backoff(1, 1, 1), "too small to halve: the whole step")
}

func TestSleep(t *testing.T) {
	require.NoError(t, Sleep(context.Background(), time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, Sleep(ctx, time.Hour), context.Canceled)
}

func FuzzAfter(f *testing.F) {
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{"5", "0.25", "Sun, 15 Jun 2025 12:01:00 GMT", "", "NaN", "+Inf", "-1", "86401", "99999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := After(s, now)
		if ok && (d < 0 || d > maxSeconds*time.Second) {
			t.Fatalf("After(%q) = %v", s, d)
		}
		if !ok && d != 0 {
			t.Fatalf("After(%q) returned %v with ok=false", s, d)
		}
	})
}
