// Package retry holds what every HTTP retry loop in stagegate shares: how long a server asked
// us to wait, jittered exponential backoff and a sleep that ends with its context. The loops
// themselves (which statuses, how many attempts, what to count) stay with their callers,
// because those differ: the Azure DevOps client, the plan callbacks and the repository fetch.
package retry

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxSeconds bounds a delay read from a header: a day. Larger values are refused rather than
// overflowing time.Duration or parking a gate for ever.
const maxSeconds = 86400

// After reads a Retry-After value: delay-seconds (fractions allowed, as Azure DevOps sends
// them) or an HTTP date, which counts from now and is never negative.
func After(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if d, ok := Seconds(v); ok {
		return d, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxSeconds*time.Second), true
	}
	return 0, false
}

// Seconds reads a delay in seconds such as X-RateLimit-Delay: a non-negative number of at
// most a day.
func Seconds(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f >= 0 && f <= maxSeconds) { // also refuses NaN
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

// Backoff is the wait before retry number attempt (1 for the first retry): base*2^(attempt-1)
// capped at limit, then a random point in its upper half, so that gates and replicas retrying
// together spread out.
func Backoff(attempt int, base, limit time.Duration) time.Duration {
	d := base << min(max(attempt-1, 0), 30)
	if d > limit || d <= 0 {
		d = limit
	}
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(half+1)
}

// Sleep waits d or until ctx ends, and then returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
