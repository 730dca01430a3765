package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/stagegate/stagegate/tools/pack/packer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/internal/testfiles"
)

// launcherFixture runs tasks/launcher/index.js with this machine's node, as the agent's Node
// handler does, against the echo test program built and compressed like a real gate binary.
type launcherFixture struct {
	node     string
	launcher []byte
	raw      []byte // the echo binary
	packed   []byte // brotli-compressed, as tools/pack ships it
	platform string // bin/<os>-<arch> folder for this machine, named as the launcher names it
	exe      string
}

func newLauncherFixture(t *testing.T) *launcherFixture {
	t.Helper()
	root := testfiles.ModuleRoot(t)
	node, err := exec.LookPath("node")
	require.NoError(t, err, "the launcher tests need node on PATH (CI has Node 20)")
	launcher, err := os.ReadFile(filepath.Join(root, "tasks", "launcher", "index.js"))
	require.NoError(t, err)

	exe := "echo"
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	out := filepath.Join(t.TempDir(), exe)
	build := exec.Command("go", "build", "-trimpath", "-o", out, "./test/e2e/testdata/echo")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	output, err := build.CombinedOutput()
	require.NoError(t, err, "build the echo program: %s", output)
	raw, err := os.ReadFile(out)
	require.NoError(t, err)
	// Same format as tools/pack (brotli, 16 MiB window) at a lower quality: quality 11 under
	// -race takes a minute, and TestPackage already runs the launcher on real quality-11 output.
	var buf bytes.Buffer
	w := brotli.NewWriterOptions(&buf, brotli.WriterOptions{Quality: 5, LGWin: 24})
	_, err = w.Write(raw)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	packed := buf.Bytes()
	check, err := packer.Decompress(packed)
	require.NoError(t, err)
	require.Equal(t, raw, check)

	return &launcherFixture{
		node:     node,
		launcher: launcher,
		raw:      raw,
		packed:   packed,
		platform: runtime.GOOS + "-" + runtime.GOARCH, // Go and the launcher use the same names
		exe:      exe,
	}
}

// taskDir lays out a task folder: index.js, launcher.json naming "echo", and files (relative
// paths) with their modes.
func (f *launcherFixture) taskDir(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	write := func(rel string, data []byte, mode os.FileMode) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, data, mode))
		require.NoError(t, os.Chmod(p, mode)) // WriteFile's mode is filtered by the umask
	}
	write("index.js", f.launcher, 0o644)
	write("launcher.json", []byte(`{"binary": "echo"}`), 0o644)
	for rel, data := range files {
		// Like files unpacked from the .vsix: no exec bit anywhere.
		write(rel, data, 0o644)
	}
	return dir
}

func (f *launcherFixture) binPath(rel string) string {
	return "bin/" + f.platform + "/" + rel
}

type launcherRun struct {
	stdout string
	code   int
}

// env is a minimal agent-like environment: nothing from the test process leaks in except
// what node needs to start.
func (f *launcherFixture) env(t *testing.T, extra map[string]string) []string {
	vars := map[string]string{
		"PATH":                os.Getenv("PATH"),
		"HOME":                t.TempDir(),
		"AGENT_TEMPDIRECTORY": t.TempDir(),
	}
	for k, v := range extra {
		vars[k] = v
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

func (f *launcherFixture) command(ctx context.Context, dir string, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, f.node, append([]string{filepath.Join(dir, "index.js")}, args...)...)
	cmd.Dir = dir
	cmd.Env = env
	return cmd
}

func (f *launcherFixture) run(t *testing.T, dir string, env []string, args ...string) launcherRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := f.command(ctx, dir, env, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		exitErr, ok := err.(*exec.ExitError)
		require.True(t, ok, "run node: %v\nstderr: %s", err, stderr.String())
		code = exitErr.ExitCode()
	}
	t.Logf("node index.js %q: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, stdout.String(), stderr.String())
	return launcherRun{stdout: stdout.String(), code: code}
}

// lineWriter collects output and announces the first "ready <pid>" line once.
type lineWriter struct {
	ready chan string // buffered (1); never reassigned

	mu        sync.Mutex
	buf       bytes.Buffer
	announced bool
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	lines := strings.Split(w.buf.String(), "\n")
	for _, line := range lines[:len(lines)-1] { // complete lines only
		if strings.HasPrefix(line, "ready ") && !w.announced {
			w.announced = true
			w.ready <- line
		}
	}
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func isExecutable(t *testing.T, path string) bool {
	t.Helper()
	st, err := os.Stat(path)
	require.NoError(t, err)
	return st.Mode().IsRegular() && st.Mode().Perm()&0o111 == 0o111
}

func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	leftovers, err := filepath.Glob(filepath.Join(dir, "*.tmp"))
	require.NoError(t, err)
	assert.Empty(t, leftovers, "no temporary file is left behind")
}

func TestLauncher(t *testing.T) {
	f := newLauncherFixture(t)

	t.Run("environment, arguments and exit code pass through", func(t *testing.T) {
		dir := f.taskDir(t, map[string][]byte{f.binPath(f.exe + ".br"): f.packed})
		for _, code := range []string{"0", "1", "3", "42"} {
			res := f.run(t, dir, f.env(t, map[string]string{
				"INPUT_TAGS":  "Security' OR [System.Id] > '0",
				"INPUT_EMPTY": "",
				"ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN": "job-token",
				"SECRET_DEPLOYKEY": "s3cret",
				"ECHO_EXIT_CODE":   code,
			}), "first arg", "second")
			assert.Equal(t, code, strconv.Itoa(res.code), "node exits with the binary's code")
			// azure-pipelines-task-lib would have removed these three kinds of variable.
			assert.Contains(t, res.stdout, "env INPUT_TAGS=Security' OR [System.Id] > '0\n")
			assert.Contains(t, res.stdout, "env INPUT_EMPTY=\n")
			assert.Contains(t, res.stdout, "env ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN=job-token\n")
			assert.Contains(t, res.stdout, "env SECRET_DEPLOYKEY=s3cret\n")
			assert.Contains(t, res.stdout, `args ["first arg" "second"]`)
			assert.NotContains(t, res.stdout, "##vso[", "a successful launch prints nothing of its own")
		}
	})

	t.Run("unpacks the compressed binary once, executable, then reuses it", func(t *testing.T) {
		dir := f.taskDir(t, map[string][]byte{f.binPath(f.exe + ".br"): f.packed})
		binDir := filepath.Join(dir, "bin", f.platform)
		plain := filepath.Join(binDir, f.exe)
		assert.NoFileExists(t, plain)

		res := f.run(t, dir, f.env(t, nil))
		require.Equal(t, 0, res.code)
		require.FileExists(t, plain)
		assert.True(t, isExecutable(t, plain), "the exec bit is set on the unpacked binary")
		unpacked, err := os.ReadFile(plain)
		require.NoError(t, err)
		assert.Equal(t, f.raw, unpacked)
		noTempFiles(t, binDir)
		first, err := os.Stat(plain)
		require.NoError(t, err)

		// Without the compressed file the second run can only succeed by reusing the binary.
		require.NoError(t, os.Remove(plain+".br"))
		res = f.run(t, dir, f.env(t, nil))
		require.Equal(t, 0, res.code)
		second, err := os.Stat(plain)
		require.NoError(t, err)
		assert.True(t, os.SameFile(first, second), "the second run used the file the first run unpacked")
	})

	t.Run("restores the exec bit of an uncompressed binary", func(t *testing.T) {
		dir := f.taskDir(t, map[string][]byte{f.binPath(f.exe): f.raw})
		plain := filepath.Join(dir, "bin", f.platform, f.exe)
		require.False(t, isExecutable(t, plain), "precondition: exec bit removed")
		res := f.run(t, dir, f.env(t, map[string]string{"ECHO_EXIT_CODE": "5"}))
		assert.Equal(t, 5, res.code)
		assert.Contains(t, res.stdout, "args []")
		assert.True(t, isExecutable(t, plain))
	})

	t.Run("concurrent first runs never see a half-written binary", func(t *testing.T) {
		dir := f.taskDir(t, map[string][]byte{f.binPath(f.exe + ".br"): f.packed})
		const runs = 6
		results := make([]launcherRun, runs)
		var wg sync.WaitGroup
		for i := range runs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
				defer cancel()
				cmd := f.command(ctx, dir, f.env(t, map[string]string{"INPUT_RUN": strconv.Itoa(i), "ECHO_EXIT_CODE": "9"}))
				out, _ := cmd.Output()
				results[i] = launcherRun{stdout: string(out), code: cmd.ProcessState.ExitCode()}
			}()
		}
		wg.Wait()
		for i, res := range results {
			assert.Equal(t, 9, res.code, "run %d: %s", i, res.stdout)
			assert.Contains(t, res.stdout, "env INPUT_RUN="+strconv.Itoa(i)+"\n", "run %d", i)
		}
		binDir := filepath.Join(dir, "bin", f.platform)
		noTempFiles(t, binDir)
		unpacked, err := os.ReadFile(filepath.Join(binDir, f.exe))
		require.NoError(t, err)
		assert.Equal(t, f.raw, unpacked)
	})

	t.Run("falls back to the agent temp directory when the task folder cannot take the binary", func(t *testing.T) {
		dir := f.taskDir(t, map[string][]byte{
			f.binPath(f.exe + ".br"): f.packed,
			// A folder where the binary should go: the rename fails even for root, like a
			// read-only task folder does for an ordinary agent account.
			f.binPath(f.exe + "/occupied"): []byte("x"),
		})
		agentTemp := t.TempDir()
		env := f.env(t, map[string]string{"AGENT_TEMPDIRECTORY": agentTemp})
		res := f.run(t, dir, env)
		require.Equal(t, 0, res.code)
		copies, err := filepath.Glob(filepath.Join(agentTemp, "stagegate-*", f.exe))
		require.NoError(t, err)
		require.Len(t, copies, 1, "one private copy in AGENT_TEMPDIRECTORY")
		assert.True(t, isExecutable(t, copies[0]))
		first, err := os.Stat(copies[0])
		require.NoError(t, err)
		noTempFiles(t, filepath.Join(dir, "bin", f.platform))

		res = f.run(t, dir, env)
		require.Equal(t, 0, res.code)
		second, err := os.Stat(copies[0])
		require.NoError(t, err)
		assert.True(t, os.SameFile(first, second), "the private copy is reused")
	})

	t.Run("no binary for this platform is a clear failure", func(t *testing.T) {
		tests := []struct {
			name    string
			files   map[string][]byte
			shipped string
		}{
			{
				name:    "other platforms shipped",
				files:   map[string][]byte{"bin/plan9-386/echo.br": f.packed, "bin/freebsd-riscv64/echo.br": f.packed},
				shipped: "This package ships: freebsd-riscv64, plan9-386.",
			},
			{name: "nothing shipped", files: nil, shipped: "This package ships: no platform."},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				dir := f.taskDir(t, tt.files)
				res := f.run(t, dir, f.env(t, nil))
				assert.Equal(t, 1, res.code)
				lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
				require.Len(t, lines, 2, "one error issue, one result")
				assert.True(t, strings.HasPrefix(lines[0], "##vso[task.logissue type=error]stagegate launcher: echo has no build for "+f.platform+" (process.platform "))
				assert.Contains(t, lines[0], tt.shipped)
				assert.True(t, strings.HasPrefix(lines[1], "##vso[task.complete result=Failed]"))
			})
		}
	})

	t.Run("a damaged binary is a clear failure", func(t *testing.T) {
		dir := f.taskDir(t, map[string][]byte{f.binPath(f.exe + ".br"): []byte("this is not brotli data")})
		res := f.run(t, dir, f.env(t, nil))
		assert.Equal(t, 1, res.code)
		assert.Contains(t, res.stdout, "##vso[task.logissue type=error]stagegate launcher: cannot unpack ")
		assert.Contains(t, res.stdout, "reinstall it")
		assert.Contains(t, res.stdout, "##vso[task.complete result=Failed]")
		assert.NoFileExists(t, filepath.Join(dir, "bin", f.platform, f.exe))
	})

	t.Run("a missing or wrong launcher.json is a clear failure", func(t *testing.T) {
		for name, content := range map[string]string{"missing": "", "path as binary": `{"binary": "../../evil"}`, "not json": `{binary`} {
			t.Run(name, func(t *testing.T) {
				dir := f.taskDir(t, map[string][]byte{f.binPath(f.exe + ".br"): f.packed})
				if content == "" {
					require.NoError(t, os.Remove(filepath.Join(dir, "launcher.json")))
				} else {
					require.NoError(t, os.WriteFile(filepath.Join(dir, "launcher.json"), []byte(content), 0o644))
				}
				res := f.run(t, dir, f.env(t, nil))
				assert.Equal(t, 1, res.code)
				assert.Contains(t, res.stdout, "##vso[task.logissue type=error]stagegate launcher: ")
				assert.Contains(t, res.stdout, "launcher.json")
				assert.Contains(t, res.stdout, "##vso[task.complete result=Failed]")
			})
		}
	})

	t.Run("debug output with System.Debug", func(t *testing.T) {
		dir := f.taskDir(t, map[string][]byte{f.binPath(f.exe + ".br"): f.packed})
		res := f.run(t, dir, f.env(t, map[string]string{"SYSTEM_DEBUG": "True"}))
		require.Equal(t, 0, res.code)
		assert.Contains(t, res.stdout, "##[debug]stagegate launcher: running "+filepath.Join(dir, "bin", f.platform, f.exe))
	})

	t.Run("cancellation signals reach the binary", func(t *testing.T) {
		tests := []struct {
			name     string
			signal   syscall.Signal
			wait     string
			wantCode int
			wantOut  string
		}{
			{name: "SIGTERM handled", signal: syscall.SIGTERM, wait: "handle", wantCode: 7, wantOut: "got terminated"},
			{name: "SIGINT handled", signal: syscall.SIGINT, wait: "handle", wantCode: 7, wantOut: "got interrupt"},
			{name: "killed by SIGTERM", signal: syscall.SIGTERM, wait: "die", wantCode: 1},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				dir := f.taskDir(t, map[string][]byte{f.binPath(f.exe + ".br"): f.packed})
				ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
				defer cancel()
				cmd := f.command(ctx, dir, f.env(t, map[string]string{"ECHO_WAIT": tt.wait, "ECHO_EXIT_CODE": "7"}))
				out := &lineWriter{ready: make(chan string, 1)}
				cmd.Stdout = out
				// If the launcher stopped forwarding, node would die and leave echo holding
				// stdout: bound the wait, and kill echo by its pid whatever happens.
				cmd.WaitDelay = 10 * time.Second
				require.NoError(t, cmd.Start())
				var pid int
				select {
				case line := <-out.ready:
					var err error
					pid, err = strconv.Atoi(strings.TrimPrefix(line, "ready "))
					require.NoError(t, err, line)
				case <-time.After(time.Minute):
					_ = cmd.Process.Kill()
					t.Fatalf("the binary did not start: %s", out.String())
				}
				t.Cleanup(func() {
					if p, err := os.FindProcess(pid); err == nil {
						_ = p.Kill()
					}
				})
				require.NoError(t, cmd.Process.Signal(tt.signal), "signal node, as the agent does on cancel")
				err := cmd.Wait()
				code := 0
				if err != nil {
					exitErr, ok := err.(*exec.ExitError)
					require.True(t, ok, "%v", err)
					code = exitErr.ExitCode()
				}
				assert.Equal(t, tt.wantCode, code, "node exit code; output:\n%s", out.String())
				if tt.wantOut != "" {
					assert.Contains(t, out.String(), tt.wantOut)
				}
			})
		}
	})
}

// jsRule is one Node-10-incompatible construct the launcher must not use.
type jsRule struct {
	name string
	re   *regexp.Regexp
}

func node10Rules() []jsRule {
	rule := func(name, re string) jsRule { return jsRule{name, regexp.MustCompile(re)} }
	return []jsRule{
		rule("optional chaining (Node 14)", `\?\.([^0-9]|$)`),
		rule("nullish coalescing (Node 14)", `\?\?`),
		rule("logical assignment (Node 15)", `\|\|=|&&=`),
		rule("private class members (Node 12+)", `#[A-Za-z_$]`),
		rule("classes (class fields and static blocks need Node 12+; the launcher needs no class)", `\bclass\b`),
		rule("numeric separators (Node 12.5)", `[0-9]_[0-9]`),
		rule("BigInt literals (Node 10.4, but not needed)", `\b[0-9]+n\b`),
		rule("ES modules (the Node10 handler runs CommonJS)", `(^|[;\s])(import|export)\b`),
		rule("optional catch binding", `\bcatch\s*\{`),
		rule("globalThis (Node 12)", `\bglobalThis\b`),
		rule("String matchAll/replaceAll (Node 12/15)", `\.(matchAll|replaceAll)\(`),
		rule(".at() (Node 16.6)", `\.at\(`),
		rule("Array flat/flatMap/findLast (Node 11+)", `\.(flat|flatMap|findLast|findLastIndex)\(`),
		rule("Object.fromEntries/hasOwn (Node 12+)", `\bObject\.(fromEntries|hasOwn)\b`),
		rule("Promise.allSettled/any (Node 12.9+)", `\bPromise\.(allSettled|any)\b`),
		rule("fs.promises (experimental in Node 10)", `\bfs\.promises\b`),
		rule("fs.rm/cp (Node 14.14+)", `\bfs\.(rm|rmSync|cp|cpSync|opendir|opendirSync)\b`),
		rule("newer globals", `\b(structuredClone|AbortController|queueMicrotask|WeakRef|FinalizationRegistry|fetch)\b`),
	}
}

// jsScan returns the source with comments removed (code) and additionally with the contents
// of string, template and regular-expression literals blanked (bare), so rules match code
// only. It is a small lexer, enough for the launcher's plain style.
func jsScan(src string) (code, bare string) {
	var c, b strings.Builder
	emit := func(s string, blank bool) {
		c.WriteString(s)
		if blank {
			b.WriteString(strings.Repeat(" ", len(s)))
		} else {
			b.WriteString(s)
		}
	}
	lastSignificant := byte(0)
	for i := 0; i < len(src); {
		ch := src[i]
		switch {
		case strings.HasPrefix(src[i:], "//"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				i = len(src)
			} else {
				i += end + 4
			}
			emit(" ", false)
		case ch == '\'' || ch == '"' || ch == '`':
			j := i + 1
			for j < len(src) && src[j] != ch {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(src))
			emit(src[i:i+1], false)
			emit(src[i+1:max(j-1, i+1)], true)
			emit(src[max(j-1, i+1):j], false)
			i = j
			lastSignificant = ch
		case ch == '/' && strings.IndexByte("(,=:[!&|?{};+-*%<>~^\x00", lastSignificant) >= 0:
			// A regular expression literal: a slash where an operand is expected.
			j := i + 1
			inClass := false
			for j < len(src) && (src[j] != '/' || inClass) && src[j] != '\n' {
				switch src[j] {
				case '\\':
					j++
				case '[':
					inClass = true
				case ']':
					inClass = false
				}
				j++
			}
			j = min(j+1, len(src))
			for j < len(src) && (src[j] >= 'a' && src[j] <= 'z') {
				j++ // flags
			}
			emit("/", false)
			emit(src[i+1:j], true)
			i = j
			lastSignificant = 'r'
		default:
			emit(src[i:i+1], false)
			if ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r' {
				lastSignificant = ch
			}
			i++
		}
	}
	return c.String(), b.String()
}

var allowedModules = map[string]bool{"child_process": true, "crypto": true, "fs": true, "os": true, "path": true, "zlib": true}

// launcherProblems lists every Node 10 incompatibility and disallowed require in src.
func launcherProblems(src string) []string {
	code, bare := jsScan(src)
	var problems []string
	for _, r := range node10Rules() {
		if loc := r.re.FindStringIndex(bare); loc != nil {
			line := strings.Count(bare[:loc[0]], "\n") + 1
			problems = append(problems, r.name+" at line "+strconv.Itoa(line))
		}
	}
	literal := regexp.MustCompile(`\brequire\(\s*'([^']*)'\s*\)`)
	calls := regexp.MustCompile(`\brequire\s*\(`)
	requires := literal.FindAllStringSubmatch(code, -1)
	if len(calls.FindAllString(bare, -1)) != len(requires) {
		problems = append(problems, "require with a computed argument")
	}
	for _, m := range requires {
		if !allowedModules[m[1]] {
			problems = append(problems, "require('"+m[1]+"'): only Node built-ins available in Node 10 may be loaded")
		}
	}
	return problems
}

// Agents on Azure DevOps Server may run the launcher with Node 10, which this machine does not
// have: the launcher's source is checked for anything newer instead.
func TestLauncherUsesOnlyNode10Features(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(testfiles.ModuleRoot(t), "tasks", "launcher", "index.js"))
	require.NoError(t, err)
	assert.Empty(t, launcherProblems(string(src)))
	assert.Contains(t, string(src), "'use strict'")

	node, err := exec.LookPath("node")
	require.NoError(t, err)
	out, err := exec.Command(node, "--check", filepath.Join(testfiles.ModuleRoot(t), "tasks", "launcher", "index.js")).CombinedOutput()
	assert.NoError(t, err, "node --check: %s", out)
}

func TestLauncherSyntaxCheckCatchesNewerFeatures(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // "" means no problem
	}{
		{name: "optional chaining", src: "var a = b?.c;", want: "optional chaining"},
		{name: "optional call", src: "f?.(x);", want: "optional chaining"},
		{name: "ternary with a number is fine", src: "var a = b ?.5 : 1;"},
		{name: "nullish", src: "var a = b ?? c;", want: "nullish coalescing"},
		{name: "logical assignment", src: "a ||= b;", want: "logical assignment"},
		{name: "private field", src: "this.#x = 1;", want: "private class members"},
		{name: "class field", src: "class A { x = 1 }", want: "classes"},
		{name: "numeric separator", src: "var n = 1_000;", want: "numeric separators"},
		{name: "bigint", src: "var n = 10n;", want: "BigInt"},
		{name: "import", src: "import fs from 'fs';", want: "ES modules"},
		{name: "optional catch binding", src: "try { a(); } catch { b(); }", want: "optional catch binding"},
		{name: "replaceAll", src: "s.replaceAll('a', 'b');", want: "matchAll/replaceAll"},
		{name: "at", src: "var x = list.at(-1);", want: ".at()"},
		{name: "fs.promises", src: "fs.promises.readFile(p);", want: "fs.promises"},
		{name: "fs.rmSync", src: "fs.rmSync(p);", want: "fs.rm/cp"},
		{name: "task-lib", src: "var tl = require('azure-pipelines-task-lib/task');", want: "only Node built-ins"},
		{name: "node: prefix", src: "var fs = require('node:fs');", want: "only Node built-ins"},
		{name: "computed require", src: "var m = require(name);", want: "computed argument"},
		{name: "in a string is fine", src: "var s = 'a?.b ?? c #x class 1_000';"},
		{name: "in a template is fine", src: "var s = `a?.b`;"},
		{name: "in a comment is fine", src: "// a?.b ?? c\n/* class x */ var a = 1;"},
		{name: "in a regexp is fine", src: "var r = /a?.b??/g; var t = x.replace(/[/]?./, '');"},
		{name: "division is code", src: "var a = b / c ?? d;", want: "nullish coalescing"},
		{name: "escaped quote", src: "var s = 'it\\'s ?? fine';"},
		{name: "allowed require", src: "var fs = require('fs'); var z = require( 'zlib' );"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := launcherProblems(tt.src)
			if tt.want == "" {
				assert.Empty(t, problems)
				return
			}
			require.NotEmpty(t, problems)
			assert.Contains(t, strings.Join(problems, "; "), tt.want)
		})
	}
}
