package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/stagegate/stagegate/pkg/retry"
)

// planClient posts to the pipeline's plan: log lines to the timeline record feed and the
// TaskCompleted event. It authenticates with Basic auth, an empty user and the check's
// AuthToken, and only ever posts below the allow-listed organization URL the callback matched.
type planClient struct {
	hc      *http.Client
	sleep   func(ctx context.Context, d time.Duration) error
	metrics *metrics
}

// Attempts per post, the first included: the completion matters more than a log batch.
const (
	eventAttempts   = 6
	feedAttempts    = 3
	planBaseBackoff = 250 * time.Millisecond
	planMaxBackoff  = 8 * time.Second
	planMaxWait     = 30 * time.Second
)

func (cb *Callback) planBase() string {
	return cb.PlanURL + "/" + cb.ProjectID + "/_apis/distributedtask/hubs/" + cb.HubName + "/plans/" + cb.PlanID
}

func (cb *Callback) eventsURL() string {
	return cb.planBase() + "/events?api-version=2.0-preview.1"
}

func (cb *Callback) feedURL() string {
	return cb.planBase() + "/timelines/" + cb.TimelineID + "/records/" + cb.JobID + "/feed?api-version=4.1"
}

// TaskCompleted results.
const (
	resultSucceeded = "succeeded"
	resultFailed    = "failed"
)

type taskCompleted struct {
	Name   string `json:"name"`
	TaskID string `json:"taskId"`
	JobID  string `json:"jobId"`
	Result string `json:"result"`
}

func (p *planClient) complete(ctx context.Context, cb *Callback, result string) error {
	body, _ := json.Marshal(taskCompleted{Name: "TaskCompleted", TaskID: cb.TaskInstanceID, JobID: cb.JobID, Result: result})
	return p.post(ctx, "event", cb.eventsURL(), cb.AuthToken, body, eventAttempts)
}

type feedBody struct {
	Value []string `json:"value"`
	Count int      `json:"count"`
}

func (p *planClient) feed(ctx context.Context, cb *Callback, lines []string) error {
	body, _ := json.Marshal(feedBody{Value: lines, Count: len(lines)})
	return p.post(ctx, "feed", cb.feedURL(), cb.AuthToken, body, feedAttempts)
}

// post sends body, retrying network errors, 408, 429 and 5xx with backoff (Retry-After is
// honoured up to planMaxWait), within ctx.
func (p *planClient) post(ctx context.Context, kind, url, token string, body []byte, attempts int) error {
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+token))
	var last error
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("post %s: %w", kind, err)
		}
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "stagegate-serve")
		resp, err := p.hc.Do(req)
		wait := retry.Backoff(attempt, planBaseBackoff, planMaxBackoff)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				p.metrics.inc(mPlanPosts, kind, "failed")
				return fmt.Errorf("post %s: %w", kind, ctx.Err())
			}
			last = fmt.Errorf("post %s: %w", kind, err)
		default:
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if resp.StatusCode >= 200 && resp.StatusCode < 300 {
				p.metrics.inc(mPlanPosts, kind, "ok")
				return nil
			}
			last = fmt.Errorf("post %s: Azure DevOps answered %d", kind, resp.StatusCode)
			if resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode < 500 {
				p.metrics.inc(mPlanPosts, kind, "failed")
				return last
			}
			if d, ok := retry.After(resp.Header.Get("Retry-After"), time.Now()); ok {
				wait = d
			}
		}
		giveUp := attempt >= attempts || wait > planMaxWait
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			giveUp = true
		}
		if giveUp {
			p.metrics.inc(mPlanPosts, kind, "failed")
			return fmt.Errorf("%w (after %d attempts)", last, attempt)
		}
		p.metrics.inc(mUpstreamRetries, "plan")
		if err := p.sleep(ctx, wait); err != nil {
			p.metrics.inc(mPlanPosts, kind, "failed")
			return fmt.Errorf("%w (gave up waiting: %v)", last, err)
		}
	}
}

// feedWriter streams an evaluation's log lines to the timeline record feed in batches, without
// ever blocking the gate: lines beyond the per-evaluation limit, or arriving faster than the
// feed takes them, are counted and summarised instead.
type feedWriter struct {
	plan  *planClient
	cb    *Callback
	red   *redactor
	log   *slog.Logger
	every time.Duration

	ctx    context.Context
	cancel context.CancelFunc
	ch     chan string
	done   chan struct{}

	mu       sync.Mutex
	closed   bool
	accepted int
	max      int
	dropped  int
	failed   bool
}

const (
	feedBatch     = 100
	feedBuffer    = 1024
	feedMaxLine   = 4096
	feedFlushWait = 10 * time.Second
)

func newFeedWriter(p *planClient, cb *Callback, red *redactor, log *slog.Logger, maxLines int, every time.Duration) *feedWriter {
	ctx, cancel := context.WithCancel(context.Background())
	f := &feedWriter{plan: p, cb: cb, red: red, log: log, every: every, ctx: ctx, cancel: cancel,
		ch: make(chan string, feedBuffer), done: make(chan struct{}), max: maxLines}
	go f.run()
	return f
}

// line queues one line (several when it contains newlines). Safe for concurrent use, and a
// no-op after close.
func (f *feedWriter) line(s string) {
	for _, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		l = f.red.redact(l)
		if len(l) > feedMaxLine {
			l = truncateUTF8(l, feedMaxLine) + " [...]"
		}
		f.mu.Lock()
		switch {
		case f.closed:
		case f.accepted >= f.max:
			f.dropped++
		default:
			select {
			case f.ch <- l:
				f.accepted++
			default:
				f.dropped++
			}
		}
		f.mu.Unlock()
	}
}

func truncateUTF8(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func (f *feedWriter) run() {
	defer close(f.done)
	var batch []string
	tick := time.NewTicker(f.every)
	defer tick.Stop()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if err := f.plan.feed(f.ctx, f.cb, batch); err != nil {
			f.mu.Lock()
			f.dropped += len(batch)
			first := !f.failed
			f.failed = true
			f.mu.Unlock()
			if first {
				f.log.Warn("could not post log lines to the timeline feed", "error", f.red.redact(err.Error()))
			}
		}
		batch = batch[:0]
	}
	for {
		select {
		case l, ok := <-f.ch:
			if !ok {
				flush()
				return
			}
			batch = append(batch, l)
			if len(batch) >= feedBatch {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

// close posts what is queued, plus a line saying how many were left out, waiting at most
// feedFlushWait, and returns the number of dropped lines.
func (f *feedWriter) close() int {
	f.mu.Lock()
	if f.dropped > 0 && !f.closed {
		msg := fmt.Sprintf("##[warning]stagegate: %d log lines were not shown (over the limit of %d per evaluation, or the feed was busy); the check's verdict is complete.", f.dropped, f.max)
		select {
		case f.ch <- msg:
		default:
		}
	}
	if !f.closed {
		f.closed = true
		close(f.ch)
	}
	f.mu.Unlock()
	t := time.NewTimer(feedFlushWait)
	defer t.Stop()
	select {
	case <-f.done:
	case <-t.C:
		f.cancel()
		<-f.done
	}
	f.cancel()
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dropped
}
