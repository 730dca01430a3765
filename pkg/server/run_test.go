package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// selfSigned writes a certificate and key for 127.0.0.1 and returns their paths and a pool
// trusting the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stagegate test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// Run serves TLS with the configured certificate, and on cancellation lets a running callback
// evaluation finish and complete before it returns.
func TestRunTLSAndGracefulStop(t *testing.T) {
	dir := t.TempDir()
	_, _, pool := selfSigned(t, dir)
	plan := newFakePlan()
	up := httptest.NewServer(plan.wrap(nil))
	defer up.Close()
	org := up.URL + "/contoso"
	cfg, err := ParseConfig(filepath.Join(dir, "c.yaml"), []byte(baseConfig(org, "tls:\n  certFile: tls.crt\n  keyFile: tls.key\nlimits:\n  shutdownGrace: 20s\n")), testEnv())
	require.NoError(t, err)
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	logs := &syncBuffer{}
	srv, err := New(Options{Config: cfg, Gates: gatesOf(blockingGate(started, release)), FeedInterval: 10 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()

	base := "https://" + ln.Addr().String()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	resp, err := hc.Get(base + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, uint16(tls.VersionTLS13), resp.TLS.Version)
	// Plain HTTP to the TLS port gets no answer from a handler.
	plain, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err == nil {
		plain.Body.Close()
		assert.Equal(t, http.StatusBadRequest, plain.StatusCode)
	}
	// TLS 1.1 is refused.
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}}}
	_, err = old.Get(base + "/healthz")
	assert.Error(t, err)

	h := &harness{t: t, org: org}
	a := doCall(t, hc, base, call{gate: "workitems", completion: "callback", headers: h.callbackHeaders(newTaskID()), body: `{"environment":"production"}`})
	require.Equal(t, http.StatusAccepted, a.status, string(a.body))
	<-started
	cancel()
	time.Sleep(100 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Run returned before the evaluation finished: %v", err)
	default:
	}
	close(release)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
	}
	ev := plan.events()
	require.Len(t, ev, 1)
	assert.Equal(t, resultSucceeded, ev[0].Event.Result)
	assert.Contains(t, logs.String(), `"msg":"stopped"`)
}

func TestNewRejectsBadSetup(t *testing.T) {
	cfg, err := ParseConfig("c.yaml", []byte(baseConfig("https://dev.azure.com/contoso", "tls:\n  certFile: /nope.crt\n  keyFile: /nope.key\n")), testEnv())
	require.NoError(t, err)
	_, err = New(Options{Config: cfg})
	assert.ErrorContains(t, err, "tls")
	cfg.TLS = nil
	_, err = New(Options{Config: cfg, Gates: map[string]GateSpec{"other": passGate().spec()}})
	assert.ErrorContains(t, err, `gate "other"`)
	_, err = New(Options{Config: cfg, Gates: map[string]GateSpec{GateWorkItems: {}}})
	assert.ErrorContains(t, err, "no Build")
	_, err = New(Options{})
	assert.Error(t, err)
}
