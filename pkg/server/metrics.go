package server

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// metrics are kept in memory and written in the Prometheus text exposition format (version
// 0.0.4) by hand: a handful of counters and one histogram do not justify a client library and
// its dependency tree in the binary.
type metrics struct {
	mu       sync.Mutex
	counters map[string]*counterVec
	latency  map[string]*histogram // by gate
	inflight int
}

type counterVec struct {
	help   string
	labels []string
	values map[string]float64 // key: label values joined by \x00
}

type histogram struct {
	counts []uint64 // per bucket, not cumulative
	sum    float64
	count  uint64
}

// latencyBuckets span a fast synchronous check to a long callback evaluation (seconds).
var latencyBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600}

// Metric names.
const (
	mEvaluations     = "stagegate_evaluations_total"
	mRequests        = "stagegate_http_requests_total"
	mRejected        = "stagegate_rejected_requests_total"
	mUpstreamRetries = "stagegate_upstream_retries_total"
	mPlanPosts       = "stagegate_plan_posts_total"
	mDuplicates      = "stagegate_duplicate_callbacks_total"
	mFeedDropped     = "stagegate_feed_lines_dropped_total"
	mLatency         = "stagegate_evaluation_duration_seconds"
	mInflight        = "stagegate_inflight_evaluations"
)

func newMetrics() *metrics {
	m := &metrics{counters: map[string]*counterVec{}, latency: map[string]*histogram{}}
	def := func(name, help string, labels ...string) {
		m.counters[name] = &counterVec{help: help, labels: labels, values: map[string]float64{}}
	}
	def(mEvaluations, "Gate evaluations finished, by gate, completion mode and result (passed, warned, failed, error).", "gate", "completion", "result")
	def(mRequests, "HTTP requests answered, by route and status code.", "route", "code")
	def(mRejected, "Requests refused before evaluation, by reason.", "reason")
	def(mUpstreamRetries, "Retried upstream requests, by target (azure_devops, repository, plan).", "target")
	def(mPlanPosts, "Posts to the plan (feed lines, TaskCompleted events), by kind and outcome.", "kind", "outcome")
	def(mDuplicates, "Callback requests for a task instance already being evaluated.")
	def(mFeedDropped, "Log lines not posted to the timeline feed (over the per-evaluation limit or the feed failing).")
	return m
}

func (m *metrics) add(name string, v float64, labels ...string) {
	if v == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.counters[name]
	c.values[strings.Join(labels, "\x00")] += v
}

func (m *metrics) inc(name string, labels ...string) { m.add(name, 1, labels...) }

func (m *metrics) observe(gate string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.latency[gate]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(latencyBuckets))}
		m.latency[gate] = h
	}
	s := d.Seconds()
	for i, b := range latencyBuckets {
		if s <= b {
			h.counts[i]++
			break
		}
	}
	h.sum += s
	h.count++
}

func (m *metrics) setInflight(delta int) {
	m.mu.Lock()
	m.inflight += delta
	m.mu.Unlock()
}

// counter returns one value (tests).
func (m *metrics) counter(name string, labels ...string) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counters[name].values[strings.Join(labels, "\x00")]
}

func (m *metrics) write(w io.Writer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	names := make([]string, 0, len(m.counters))
	for n := range m.counters {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := m.counters[n]
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s counter\n", n, c.help, n)
		keys := make([]string, 0, len(c.values))
		for k := range c.values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "%s%s %s\n", n, labelText(c.labels, strings.Split(k, "\x00")), num(c.values[k]))
		}
	}
	fmt.Fprintf(&b, "# HELP %s Evaluations running now.\n# TYPE %s gauge\n%s %d\n", mInflight, mInflight, mInflight, m.inflight)
	fmt.Fprintf(&b, "# HELP %s Time from accepting a request to the verdict, by gate.\n# TYPE %s histogram\n", mLatency, mLatency)
	gates := make([]string, 0, len(m.latency))
	for g := range m.latency {
		gates = append(gates, g)
	}
	sort.Strings(gates)
	for _, g := range gates {
		h := m.latency[g]
		var cum uint64
		for i, le := range latencyBuckets {
			cum += h.counts[i]
			fmt.Fprintf(&b, "%s_bucket{gate=\"%s\",le=\"%s\"} %d\n", mLatency, escapeLabel(g), num(le), cum)
		}
		fmt.Fprintf(&b, "%s_bucket{gate=\"%s\",le=\"+Inf\"} %d\n", mLatency, escapeLabel(g), h.count)
		fmt.Fprintf(&b, "%s_sum{gate=\"%s\"} %s\n%s_count{gate=\"%s\"} %d\n", mLatency, escapeLabel(g), num(h.sum), mLatency, escapeLabel(g), h.count)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func labelText(names, values []string) string {
	if len(names) == 0 {
		return ""
	}
	parts := make([]string, len(names))
	for i, n := range names {
		v := ""
		if i < len(values) {
			v = values[i]
		}
		parts[i] = n + `="` + escapeLabel(v) + `"`
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// escapeLabel escapes a label value as the exposition format requires (\\, \", \n); %q is not
// used for values because it escapes more than the format allows.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
