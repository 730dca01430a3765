package verifytest

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

func newServerTLS(p *pki) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.leaf}, MinVersion: tls.VersionTLS12}
}

func newClientTLS(p *pki) *tls.Config {
	return &tls.Config{RootCAs: p.pool, MinVersion: tls.VersionTLS12}
}

// Proxy starts an HTTP proxy that tunnels every CONNECT to the fake's TLS server and serves
// plain HTTP requests (IMDS) itself, so a child process with HTTPS_PROXY/HTTP_PROXY set to its
// URL and SSL_CERT_FILE set to CAPEM talks to the fake under the real host names. It records
// the CONNECT targets in Tunnels.
func (f *Fake) Proxy(tb testing.TB) *Proxy {
	tb.Helper()
	p := &Proxy{f: f}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	tb.Cleanup(p.srv.Close)
	return p
}

// Proxy is a tunnelling proxy in front of a Fake.
type Proxy struct {
	f   *Fake
	srv *httptest.Server
	mu  sync.Mutex
	// tunnels are the CONNECT targets seen.
	tunnels []string
}

// URL is the proxy's address for HTTPS_PROXY.
func (p *Proxy) URL() string { return p.srv.URL }

// Tunnels returns the CONNECT targets seen so far.
func (p *Proxy) Tunnels() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.tunnels...)
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		// Plain HTTP through a proxy: only the managed identity endpoint uses it.
		p.f.serveIMDS(w, r)
		return
	}
	p.mu.Lock()
	p.tunnels = append(p.tunnels, r.Host)
	p.mu.Unlock()
	host, _, _ := net.SplitHostPort(r.Host)
	if p.f.isDown(host) {
		http.Error(w, "no such host", http.StatusBadGateway)
		return
	}
	upstream, err := net.Dial("tcp", p.f.tls.Listener.Addr().String())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		upstream.Close()
		http.Error(w, "cannot hijack", http.StatusInternalServerError)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		upstream.Close()
		return
	}
	_, _ = conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if n := buf.Reader.Buffered(); n > 0 {
			b, _ := buf.Reader.Peek(n)
			_, _ = upstream.Write(b)
		}
		_, _ = io.Copy(upstream, conn)
		if tc, ok := upstream.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	go func() {
		defer wg.Done()
		_, _ = io.Copy(conn, upstream)
		_ = conn.Close()
	}()
	wg.Wait()
	upstream.Close()
}
