package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo/azdosim"

	"github.com/stagegate/stagegate/internal/testfiles"
)

// `stagegate serve` as an operator runs it: the real binary, a configuration file with its
// secret in a file, the demo organization in azdosim and a plan endpoint on the same host over
// real HTTP; a synchronous check, a callback check, and SIGTERM while a callback evaluation is
// running (it finishes, completes once, and the process exits 0).

const srvPassword = "e2e-check-password-0123456789"

// srvPlan records what the server posts to the plan.
type srvPlan struct {
	mu     sync.Mutex
	events []map[string]string
	lines  []string
	tokens []string
}

func (p *srvPlan) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.Path, "/_apis/distributedtask/") {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		_, token, _ := r.BasicAuth()
		p.mu.Lock()
		defer p.mu.Unlock()
		p.tokens = append(p.tokens, token)
		switch {
		case strings.HasSuffix(r.URL.Path, "/events"):
			var ev map[string]string
			if json.Unmarshal(body, &ev) != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			p.events = append(p.events, ev)
		case strings.HasSuffix(r.URL.Path, "/feed"):
			var fb struct {
				Value []string `json:"value"`
			}
			_ = json.Unmarshal(body, &fb)
			p.lines = append(p.lines, fb.Value...)
		}
	})
}

func (p *srvPlan) snapshot() ([]map[string]string, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]map[string]string(nil), p.events...), append([]string(nil), p.lines...)
}

func srvBuild(t *testing.T) string {
	t.Helper()
	exe := "stagegate"
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	out := filepath.Join(t.TempDir(), exe)
	build := exec.Command("go", "build", "-trimpath", "-o", out, "./cmd/stagegate")
	build.Dir = testfiles.ModuleRoot(t)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	output, err := build.CombinedOutput()
	require.NoError(t, err, "build stagegate: %s", output)
	return out
}

// srvProcess is a running `stagegate serve` and its JSON log lines.
type srvProcess struct {
	cmd  *exec.Cmd
	addr string
	mu   sync.Mutex
	logs []map[string]any
	raw  bytes.Buffer
	done chan error
}

func (p *srvProcess) logLines() ([]map[string]any, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]map[string]any(nil), p.logs...), p.raw.String()
}

func srvStart(t *testing.T, exe, config string) *srvProcess {
	t.Helper()
	cmd := exec.Command(exe, "serve", "--config", config)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &srvProcess{cmd: cmd, done: make(chan error, 1)}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			var m map[string]any
			p.mu.Lock()
			p.raw.WriteString(line + "\n")
			if json.Unmarshal([]byte(line), &m) == nil {
				p.logs = append(p.logs, m)
				if m["msg"] == "stagegate serve listening" {
					ready <- m["address"].(string)
				}
			}
			p.mu.Unlock()
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	})
	select {
	case p.addr = <-ready:
	case err := <-p.done:
		_, raw := p.logLines()
		t.Fatalf("stagegate serve exited before listening: %v\n%s", err, raw)
	case <-time.After(30 * time.Second):
		t.Fatal("stagegate serve did not start within 30s")
	}
	return p
}

func srvPost(t *testing.T, base, gate, completion string, headers map[string]string, body string) (int, map[string]any) {
	t.Helper()
	u := base + "/v1/gates/" + gate
	if completion != "" {
		u += "?completion=" + completion
	}
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	require.NoError(t, err)
	req.SetBasicAuth("stagegate", srvPassword)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	require.NoError(t, json.Unmarshal(b, &m), "%s", b)
	return resp.StatusCode, m
}

func TestServeBinary(t *testing.T) {
	exe := srvBuild(t)
	sc, err := azdosim.Demo()
	require.NoError(t, err)
	sim, err := azdosim.New(sc, azdosim.Options{})
	require.NoError(t, err)
	plan := &srvPlan{}
	up := httptest.NewServer(plan.wrap(sim))
	defer up.Close()
	org := sim.OrgURL(up.URL)

	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "secrets"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secrets", "password"), []byte(srvPassword+"\n"), 0o600))
	config := filepath.Join(dir, "serve.yaml")
	require.NoError(t, os.WriteFile(config, []byte(`listen: "127.0.0.1:0"
organizations: [`+org+`]
callers:
  - name: checks
    username: stagegate
    passwordFile: secrets/password
limits:
  shutdownGrace: 20s
environments:
  production:
    workitems: {mode: enforce}
  staging:
    workitems: {mode: audit}
logLevel: info
`), 0o600))

	// --check validates without serving.
	out, err := exec.Command(exe, "serve", "--config", config, "--check").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "configuration is valid")
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("organizations: [https://dev.azure.com/x]\nlisen: x\n"), 0o600))
	out, err = exec.Command(exe, "serve", "--config", bad, "--check").CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), `line 2: unknown key "lisen"`)

	p := srvStart(t, exe, config)
	base := "http://" + p.addr

	// Synchronous: the verdict is the answer.
	code, v := srvPost(t, base, "workitems", "", map[string]string{"AuthToken": "stagegate-demo-token"},
		`{"environment":"staging","organization":"`+org+`/","project":"Payments"}`)
	require.Equal(t, http.StatusOK, code, "%v", v)
	assert.Equal(t, "passed", v["status"], "audit")
	assert.Equal(t, "warned", v["outcome"])
	assert.NotEmpty(t, v["findings"])

	// Callback, then SIGTERM while the evaluation waits on a slow Azure DevOps.
	require.NoError(t, sim.Inject(azdosim.Fault{Route: azdosim.RouteWIQL, Kind: azdosim.FaultLatency, Latency: 2 * time.Second, Times: 1}))
	headers := map[string]string{
		"PlanUrl": org + "/", "ProjectId": "6ce954b1-ce1f-45d1-b94d-e6bf2464ba2c", "HubName": "Checks",
		"PlanId": "11111111-2222-3333-4444-555555555555", "JobId": "66666666-7777-8888-9999-000000000000",
		"TimelineId": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "TaskInstanceId": "0f0f0f0f-1111-2222-3333-444444444444",
		"AuthToken": "stagegate-demo-token",
	}
	code, v = srvPost(t, base, "workitems", "callback", headers, `{"environment":"production","project":"Payments"}`)
	require.Equal(t, http.StatusAccepted, code, "%v", v)
	// SIGTERM is how containers and App Service stop the server (os.Interrupt on Windows).
	time.Sleep(300 * time.Millisecond)
	stop := os.Signal(syscall.SIGTERM)
	if runtime.GOOS == "windows" {
		stop = os.Interrupt
	}
	require.NoError(t, p.cmd.Process.Signal(stop))
	var waitErr error
	select {
	case waitErr = <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatal("stagegate serve did not exit within 60s of SIGTERM")
	}
	require.NoError(t, waitErr, "exit status 0 after a graceful shutdown")

	events, lines := plan.snapshot()
	require.Len(t, events, 1, "the running evaluation completed exactly once before exit")
	assert.Equal(t, map[string]string{"name": "TaskCompleted", "taskId": "0f0f0f0f-1111-2222-3333-444444444444",
		"jobId": "66666666-7777-8888-9999-000000000000", "result": "failed"}, events[0], "the demo organization fails enforce")
	assert.Contains(t, strings.Join(lines, "\n"), "WI001")
	for _, tok := range plan.tokens {
		assert.Equal(t, "stagegate-demo-token", tok)
	}

	logs, raw := p.logLines()
	msgs := map[string]int{}
	for _, l := range logs {
		msgs[l["msg"].(string)]++
	}
	assert.Equal(t, 2, msgs["evaluation finished"])
	assert.Equal(t, 1, msgs["TaskCompleted posted"])
	assert.Equal(t, 1, msgs["shutting down"])
	assert.Equal(t, 1, msgs["stopped"])
	assert.NotContains(t, raw, srvPassword)
	assert.NotContains(t, raw, "stagegate-demo-token")
	for _, line := range strings.Split(strings.TrimSpace(raw), "\n") {
		assert.True(t, json.Valid([]byte(line)), "every log line is JSON: %s", line)
	}
}
