package repofetch

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/stagegate/stagegate/pkg/azdo"

	"github.com/stagegate/stagegate/pkg/retry"
)

// transport authenticates and retries the requests of one fetch. It sends the credential only
// to the organization's host, retries 429, 5xx and network errors with backoff (honouring
// Retry-After up to maxWait), and remembers the last status for error messages.
type transport struct {
	base        http.RoundTripper
	cred        azdo.Credential
	host        string
	maxAttempts int
	timeout     time.Duration
	sleep       func(ctx context.Context, d time.Duration) error
	onRetry     func()

	mu   sync.Mutex
	last int
}

const (
	baseBackoff = 500 * time.Millisecond
	maxBackoff  = 10 * time.Second
	maxWait     = 60 * time.Second
)

func (f *Fetcher) transport(cred azdo.Credential, host string) *transport {
	t := &transport{base: http.DefaultTransport, cred: cred, host: host, maxAttempts: f.MaxAttempts, timeout: f.AttemptTimeout, sleep: f.Sleep, onRetry: f.OnRetry}
	if f.HTTPClient != nil && f.HTTPClient.Transport != nil {
		t.base = f.HTTPClient.Transport
	}
	if t.maxAttempts <= 0 {
		t.maxAttempts = 4
	}
	if t.timeout <= 0 {
		t.timeout = 2 * time.Minute
	}
	if t.sleep == nil {
		t.sleep = retry.Sleep
	}
	return t
}

func (t *transport) status() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

func (t *transport) record(status int) {
	t.mu.Lock()
	t.last = status
	t.mu.Unlock()
}

// RoundTrip implements http.RoundTripper. Only GET and OPTIONS are sent (the fetch makes no
// other request), so every attempt may be repeated.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet && req.Method != http.MethodOptions {
		return nil, fmt.Errorf("repofetch: refusing %s %s: the fetch only reads", req.Method, req.URL.Redacted())
	}
	if !strings.EqualFold(req.URL.Host, t.host) {
		return nil, fmt.Errorf("repofetch: refusing to send the credential to %s: only %s is allowed", req.URL.Host, t.host)
	}
	ctx := req.Context()
	for attempt := 1; ; attempt++ {
		auth, err := t.cred.Authorization(ctx)
		if err != nil {
			return nil, fmt.Errorf("credential (%s): %w", t.cred.Source(), err)
		}
		r := req.Clone(ctx)
		r.Header.Set("Authorization", auth)
		resp, err := t.attempt(r)
		wait := retry.Backoff(attempt, baseBackoff, maxBackoff)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, err
			}
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			t.record(resp.StatusCode)
			if d, ok := retry.After(resp.Header.Get("Retry-After"), time.Now()); ok {
				wait = d
			}
		default:
			t.record(resp.StatusCode)
			// The client library stores this response header in a package variable on every
			// response, unsynchronised; the service does not need it back.
			resp.Header.Del("X-TFS-Session")
			return resp, nil
		}
		giveUp := attempt >= t.maxAttempts || wait > maxWait
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			giveUp = true
		}
		if giveUp {
			if err != nil {
				return nil, err
			}
			resp.Header.Del("X-TFS-Session")
			return resp, nil
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		if t.onRetry != nil {
			t.onRetry()
		}
		if err := t.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// attempt bounds one round trip, body included: the timer is stopped when the body is closed.
func (t *transport) attempt(r *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(r.Context(), t.timeout)
	resp, err := t.base.RoundTrip(r.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
