package server

import (
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The load test: callback checks from concurrent clients against the real workitems gate and
// the simulator, on loopback. It proves that no request is lost and that every accepted
// evaluation completes exactly once. The short version runs with the tests; the full one
// (2,000 requests, 50 clients) is BenchmarkCallbackLoad:
//
//	go test -run '^$' -bench BenchmarkCallbackLoad -benchtime 1x ./pkg/server/

type loadResult struct {
	requests, clients int
	throttled         int64           // 429 answers, retried by the clients
	elapsed           time.Duration   // first request to last TaskCompleted
	ack               []time.Duration // the accepted request's answer time
	complete          []time.Duration // first attempt to TaskCompleted, 429 retries included
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p*float64(len(s)-1) + 0.5)
	return s[i]
}

func runLoad(t testing.TB, requests, clients, maxConcurrent int) loadResult {
	t.Helper()
	sim := demoSim(t)
	h := newHarness(t, harnessOptions{sim: sim,
		config: func(c *Config) { c.Limits.MaxConcurrent = maxConcurrent; c.Limits.RetryAfter = time.Second },
		opts:   func(o *Options) { o.Now = func() time.Time { return simNow }; o.FeedInterval = 50 * time.Millisecond }})
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxIdleConns: clients * 2}}
	defer hc.CloseIdleConnections()

	ids := make([]string, requests)
	for i := range ids {
		ids[i] = newTaskID()
	}
	starts := make([]time.Time, requests)
	res := loadResult{requests: requests, clients: clients, ack: make([]time.Duration, requests)}
	var next atomic.Int64
	var throttled atomic.Int64
	var wg sync.WaitGroup
	var failMu sync.Mutex
	var failures []string
	begin := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= requests {
					return
				}
				hd := h.callbackHeaders(ids[i])
				hd[HeaderAuthToken] = demoToken
				starts[i] = time.Now()
				for {
					sent := time.Now()
					a := doCall(t, hc, h.front.URL, call{gate: "workitems", completion: "callback", headers: hd,
						body: map[string]any{"environment": "production", "project": "Payments"}})
					if a.status == http.StatusTooManyRequests {
						// Azure DevOps re-evaluates a check later; a client here retries soon.
						throttled.Add(1)
						time.Sleep(20 * time.Millisecond)
						continue
					}
					res.ack[i] = time.Since(sent)
					if a.status != http.StatusAccepted || a.json["duplicate"] != nil {
						failMu.Lock()
						failures = append(failures, string(a.body))
						failMu.Unlock()
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	require.Empty(t, failures, "every request was accepted once")
	events := h.plan.waitEvents(t, requests)
	res.throttled = throttled.Load()

	index := make(map[string]int, requests)
	for i, id := range ids {
		index[id] = i
	}
	seen := map[string]int{}
	var last time.Time
	for _, e := range events {
		seen[e.Event.TaskID]++
		i, ok := index[e.Event.TaskID]
		require.True(t, ok, "an event for a task nobody asked for: %s", e.Event.TaskID)
		res.complete = append(res.complete, e.At.Sub(starts[i]))
		if e.At.After(last) {
			last = e.At
		}
	}
	res.elapsed = last.Sub(begin)
	assert.Len(t, seen, requests, "no request lost")
	for id, n := range seen {
		assert.Equal(t, 1, n, "task %s completed %d times", id, n)
	}
	for _, e := range events {
		assert.Equal(t, resultFailed, e.Event.Result, "the demo organization fails the production policy")
	}
	assert.Equal(t, float64(requests), h.srv.metrics.counter(mEvaluations, "workitems", "callback", "failed"))
	assert.Zero(t, h.srv.metrics.counter(mEvaluations, "workitems", "callback", "error"), "no evaluation failed to run")
	return res
}

func (r loadResult) log(t testing.TB) {
	t.Logf("%d callback checks from %d clients: %.0f checks/s, %d answers 429 (retried); ack p50 %s p99 %s; TaskCompleted p50 %s p99 %s",
		r.requests, r.clients, float64(r.requests)/r.elapsed.Seconds(), r.throttled,
		percentile(r.ack, 0.5).Round(time.Microsecond), percentile(r.ack, 0.99).Round(time.Microsecond),
		percentile(r.complete, 0.5).Round(time.Microsecond), percentile(r.complete, 0.99).Round(time.Microsecond))
}

func TestCallbackLoadShort(t *testing.T) {
	r := runLoad(t, 200, 50, 64)
	r.log(t)
	assert.Len(t, r.complete, 200)
}

// Saturation under load: with fewer slots than clients, clients see 429s, retry, and still
// every check completes exactly once.
func TestCallbackLoadSaturated(t *testing.T) {
	r := runLoad(t, 100, 20, 4)
	r.log(t)
	assert.Len(t, r.complete, 100)
}

func BenchmarkCallbackLoad(b *testing.B) {
	for _, slots := range []int{64, 512} {
		b.Run(fmt.Sprintf("maxConcurrent=%d", slots), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				r := runLoad(b, 2000, 50, slots)
				r.log(b)
				b.ReportMetric(float64(r.requests)/r.elapsed.Seconds(), "checks/s")
				b.ReportMetric(float64(r.throttled), "429s")
				b.ReportMetric(float64(percentile(r.ack, 0.5).Microseconds())/1000, "ack-p50-ms")
				b.ReportMetric(float64(percentile(r.ack, 0.99).Microseconds())/1000, "ack-p99-ms")
				b.ReportMetric(float64(percentile(r.complete, 0.5).Microseconds())/1000, "done-p50-ms")
				b.ReportMetric(float64(percentile(r.complete, 0.99).Microseconds())/1000, "done-p99-ms")
			}
		})
	}
}
