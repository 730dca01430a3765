package azdosim

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// FaultKind is what an injected fault does to a request.
type FaultKind string

// Fault kinds.
const (
	// FaultStatus answers Status with the service's JSON error body
	// (401, 403, 404, 500, 503, ...).
	FaultStatus FaultKind = "status"
	// FaultEmpty answers Status with an empty body.
	FaultEmpty FaultKind = "empty"
	// FaultThrottle answers 429 with Retry-After and the X-RateLimit-*
	// headers of the service.
	FaultThrottle FaultKind = "throttle"
	// FaultLatency waits Latency (or until the client gives up), then
	// answers normally.
	FaultLatency FaultKind = "latency"
	// FaultReset reads the request, then resets the TCP connection.
	FaultReset FaultKind = "reset"
	// FaultTruncate answers normally but cuts the JSON body in half.
	FaultTruncate FaultKind = "truncate"
	// FaultHTML answers Status (default 500) with an HTML error page, like a
	// proxy or the sign-in page would.
	FaultHTML FaultKind = "html"
	// FaultHeaders answers normally with extra Headers (X-RateLimit-* on a
	// successful response, say).
	FaultHeaders FaultKind = "headers"
)

// Fault describes an injected failure. A fault matches a request by Route
// (a route name such as RouteWIQL) and/or Path (a case-insensitive regular
// expression on the URL path) and/or Method; with none of them it matches
// every request.
type Fault struct {
	Route  string
	Path   string
	Method string
	Kind   FaultKind
	// Status for FaultStatus, FaultEmpty and FaultHTML; 429 for FaultThrottle.
	Status int
	// RetryAfter is the Retry-After header value (seconds or an HTTP date).
	// FaultThrottle defaults to "1".
	RetryAfter string
	// Headers are added to the response.
	Headers map[string]string
	// Latency for FaultLatency.
	Latency time.Duration
	// Message replaces the default error message.
	Message string
	// Skip lets the first Skip matching requests through; Times then affects
	// that many requests (0: every later matching request).
	Skip  int
	Times int
}

type faultState struct {
	Fault
	re   *regexp.Regexp
	seen int
	hits int
}

// Inject adds a fault. Faults are tried in the order they were added; the
// first one that matches and still has hits left applies.
func (s *Server) Inject(f Fault) error {
	st := &faultState{Fault: f}
	if f.Path != "" {
		re, err := regexp.Compile("(?i)" + f.Path)
		if err != nil {
			return fmt.Errorf("azdosim: fault path %q: %w", f.Path, err)
		}
		st.re = re
	}
	switch f.Kind {
	case FaultStatus, FaultEmpty:
		if f.Status < 400 || f.Status > 599 {
			return fmt.Errorf("azdosim: fault %s needs an error Status (400-599), got %d", f.Kind, f.Status)
		}
	case FaultThrottle:
		if st.Status == 0 {
			st.Status = http.StatusTooManyRequests
		}
		if st.RetryAfter == "" {
			st.RetryAfter = "1"
		}
	case FaultHTML:
		if st.Status == 0 {
			st.Status = http.StatusInternalServerError
		}
	case FaultLatency:
		if f.Latency <= 0 {
			return fmt.Errorf("azdosim: fault latency needs a positive Latency")
		}
	case FaultReset, FaultTruncate, FaultHeaders:
	default:
		return fmt.Errorf("azdosim: unknown fault kind %q", f.Kind)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, st)
	return nil
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (s *Server) takeFault(r *http.Request, route string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.faults {
		if f.Route != "" && !strings.EqualFold(f.Route, route) {
			continue
		}
		if f.re != nil && !f.re.MatchString(r.URL.Path) {
			continue
		}
		if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
			continue
		}
		if f.Times > 0 && f.hits >= f.Times {
			continue
		}
		f.seen++
		if f.seen <= f.Skip {
			continue
		}
		f.hits++
		copied := f.Fault
		return &copied
	}
	return nil
}

// applyFault writes the faulty response. It returns false when the request
// should then be served normally (latency already waited).
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f *Fault, serve func(http.ResponseWriter)) bool {
	for k, v := range f.Headers {
		w.Header().Set(k, v)
	}
	switch f.Kind {
	case FaultLatency:
		// Read the body first: the server only notices a client that gives
		// up (and cancels r.Context) once the body has been consumed.
		if r.Body != nil {
			body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
			if err != nil {
				return true
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		t := time.NewTimer(f.Latency)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return true
		}
		return false
	case FaultHeaders:
		return false
	case FaultReset:
		hj, ok := w.(http.Hijacker)
		if !ok {
			if rec, isRec := w.(*statusRecorder); isRec {
				hj, ok = rec.ResponseWriter.(http.Hijacker)
			}
		}
		if !ok {
			writeError(w, http.StatusInternalServerError, "SimulatorException", "azdosim: connection reset needs a hijackable connection")
			return true
		}
		conn, _, err := hj.Hijack()
		if err != nil {
			return true
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // send RST, not FIN: "connection reset by peer"
		}
		_ = conn.Close()
		return true
	case FaultTruncate:
		buf := &bufferedWriter{header: http.Header{}}
		serve(buf)
		body := buf.body.Bytes()
		half := body[:len(body)/2]
		for k, v := range buf.header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(half)))
		status := buf.status
		if status == 0 {
			status = http.StatusOK
		}
		w.WriteHeader(status)
		_, _ = w.Write(half)
		return true
	case FaultThrottle:
		h := w.Header()
		h.Set("Retry-After", f.RetryAfter)
		h.Set("X-RateLimit-Resource", "Core")
		if h.Get("X-RateLimit-Delay") == "" {
			h.Set("X-RateLimit-Delay", "1.5")
		}
		if h.Get("X-RateLimit-Limit") == "" {
			h.Set("X-RateLimit-Limit", "200")
		}
		if h.Get("X-RateLimit-Remaining") == "" {
			h.Set("X-RateLimit-Remaining", "0")
		}
		h.Set("X-RateLimit-Reset", strconv.FormatInt(s.now().Add(5*time.Minute).Unix(), 10))
		msg := f.Message
		if msg == "" {
			msg = "TF400733: Request was blocked due to exceeding usage of resource 'Core' in namespace 'User'. For more information on why your request was blocked, see the topic \"Rate limits\" on the Microsoft Web site (https://go.microsoft.com/fwlink/?LinkId=823950)."
		}
		writeError(w, f.Status, "RequestBlockedException", msg)
		return true
	case FaultStatus:
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		msg := f.Message
		if msg == "" {
			msg = defaultFaultMessage(f.Status)
		}
		writeError(w, f.Status, faultTypeKey(f.Status), msg)
		return true
	case FaultEmpty:
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(f.Status)
		return true
	case FaultHTML:
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		page := "<!DOCTYPE html>\n<html><head><title>Azure DevOps Services | " + http.StatusText(f.Status) + "</title></head>" +
			"<body><h1>" + strconv.Itoa(f.Status) + " - " + http.StatusText(f.Status) + "</h1><p>Something went wrong. Please try again later.</p></body></html>"
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(page)))
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(page))
		return true
	}
	return false
}

func defaultFaultMessage(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "TF400813: The user is not authorized to access this resource."
	case http.StatusForbidden:
		return "TF50309: The following account does not have sufficient permissions to complete the operation: Build Service."
	case http.StatusNotFound:
		return "TF401019: The Git repository with name or identifier does not exist or you do not have permissions for the operation you are attempting."
	}
	return "VS800012: " + http.StatusText(status) + " (injected by azdosim)."
}

func faultTypeKey(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "UnauthorizedRequestException"
	case http.StatusForbidden:
		return "AccessCheckException"
	case http.StatusNotFound:
		return "NotFoundException"
	}
	return "VssServiceException"
}

// bufferedWriter collects a response so a fault can rewrite it.
type bufferedWriter struct {
	header http.Header
	body   bytes.Buffer
	status int
}

func (b *bufferedWriter) Header() http.Header { return b.header }
func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
func (b *bufferedWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
