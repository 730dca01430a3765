package reviews

import (
	"bufio"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/task"
)

func TestParsePatterns(t *testing.T) {
	tests := []struct {
		in      string
		want    []string // normalized texts
		wantErr string
	}{
		{in: "refs/heads/main,refs/heads/master,refs/heads/release/*", want: []string{"refs/heads/main", "refs/heads/master", "refs/heads/release/*"}},
		{in: "main, release/*", want: []string{"refs/heads/main", "refs/heads/release/*"}},
		{in: "main\n\nhotfix/*\r\n", want: []string{"refs/heads/main", "refs/heads/hotfix/*"}},
		{in: "*", want: []string{"refs/heads/*"}},
		{in: "refs/tags/v*", want: []string{"refs/tags/v*"}},
		{in: "", wantErr: "at least one branch pattern"},
		{in: "main,,x", wantErr: "entry 2 is empty"},
		{in: "main,", wantErr: "entry 2 is empty"},
		{in: "refs/heads/*/main", wantErr: `a "*" is allowed only at the end`},
		{in: "release/**", wantErr: `a "*" is allowed only at the end`},
		{in: "release candidates/*", wantErr: "it contains a space"},
		{in: "refs/heads/", wantErr: `cannot end with "/"`},
		{in: "feature..x", wantErr: `".."`},
		{in: "x.lock", wantErr: `".lock"`},
		{in: "a//b", wantErr: "empty path component"},
		{in: "~main", wantErr: `Git does not allow '~'`},
		{in: "main\x01", wantErr: "control character"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePatterns("productionBranches", tt.in)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Contains(t, err.Error(), `input "productionBranches"`)
				var ie *task.InputError
				assert.True(t, errors.As(err, &ie))
				return
			}
			require.NoError(t, err)
			var texts []string
			for _, p := range got {
				texts = append(texts, p.Text)
			}
			assert.Equal(t, tt.want, texts)
		})
	}
}

func TestPatternMatch(t *testing.T) {
	tests := []struct {
		pattern, ref string
		want         bool
	}{
		{"main", "refs/heads/main", true},
		{"main", "refs/heads/MAIN", true},
		{"main", "refs/heads/main2", false},
		{"release/*", "refs/heads/release/1.0", true},
		{"release/*", "refs/heads/release/a/b", true},
		{"release/*", "refs/heads/release", false},
		{"release/*", "refs/heads/release/", false},
		{"release/*", "refs/heads/releases/1", false},
		{"release*", "refs/heads/releases/1", true},
		{"*", "refs/heads/x", true},
		{"*", "refs/tags/x", false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.ref, func(t *testing.T) {
			ps, err := ParsePatterns("p", tt.pattern)
			require.NoError(t, err)
			assert.Equal(t, tt.want, ps[0].Match(tt.ref))
		})
	}
}

func TestNormalizeBranch(t *testing.T) {
	tests := []struct{ in, want, wantErr string }{
		{in: "main", want: "refs/heads/main"},
		{in: "refs/heads/feature/x", want: "refs/heads/feature/x"},
		{in: "refs/pull/12/merge", want: "refs/pull/12/merge"},
		{in: "release/*", wantErr: `no "*"`},
		{in: "my branch", wantErr: "it contains a space"},
		{in: "refs/heads/", wantErr: `cannot end with "/"`},
		{in: "x.", wantErr: `cannot end with "." or ".lock"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeBranch("branch", tt.in)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Contains(t, err.Error(), `input "branch"`)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestNormalizeCommit(t *testing.T) {
	got, err := normalizeCommit("A1B2C3D4E5F60718293A4B5C6D7E8F9012345678")
	require.NoError(t, err)
	assert.Equal(t, "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", got)
	_, err = normalizeCommit(strings.Repeat("a", 64))
	assert.NoError(t, err, "SHA-256 repositories")
	for _, bad := range []string{"a1b2c3d", "HEAD", strings.Repeat("g", 40), strings.Repeat("a", 41)} {
		_, err := normalizeCommit(bad)
		assert.Error(t, err, bad)
	}
}

// seeds reads testdata/patterns.txt: one value per line, "\n" standing for a newline.
func seeds(f *testing.F) []string {
	f.Helper()
	file, err := os.Open("testdata/patterns.txt")
	require.NoError(f, err)
	defer file.Close()
	var out []string
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, strings.ReplaceAll(line, `\n`, "\n"))
	}
	require.NoError(f, sc.Err())
	return out
}

func FuzzParsePatterns(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ps, err := ParsePatterns("productionBranches", in)
		if err != nil {
			if !strings.Contains(err.Error(), `input "productionBranches"`) {
				t.Fatalf("error does not name the input: %v", err)
			}
			return
		}
		if len(ps) == 0 {
			t.Fatal("no patterns and no error")
		}
		for _, p := range ps {
			if !strings.HasPrefix(p.Text, "refs/") || strings.ContainsAny(p.Ref, "* \t\r\n") {
				t.Fatalf("bad pattern %+v from %q", p, in)
			}
			if p.Prefix != strings.HasSuffix(p.Text, "*") || p.Ref+map[bool]string{true: "*"}[p.Prefix] != p.Text {
				t.Fatalf("inconsistent pattern %+v", p)
			}
			if !p.Prefix && !p.Match(p.Ref) {
				t.Fatalf("%+v does not match its own ref", p)
			}
			if p.Prefix && !p.Match(p.Ref+"x") {
				t.Fatalf("%+v does not match a branch below it", p)
			}
		}
	})
}

func FuzzNormalizeBranch(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ref, err := NormalizeBranch("branch", in)
		if err != nil {
			if !strings.Contains(err.Error(), `input "branch"`) {
				t.Fatalf("error does not name the input: %v", err)
			}
			return
		}
		if !strings.HasPrefix(ref, "refs/") || strings.ContainsAny(ref, "* \t\r\n") || strings.HasSuffix(ref, "/") {
			t.Fatalf("bad ref %q from %q", ref, in)
		}
		again, err := NormalizeBranch("branch", ref)
		if err != nil || again != ref {
			t.Fatalf("not idempotent: %q -> %q (%v)", ref, again, err)
		}
		if strings.Contains(ref, ",") {
			return // a valid Git ref, but a comma separates patterns
		}
		ps, err := ParsePatterns("p", ref)
		if err != nil || !ps[0].Match(ref) {
			t.Fatalf("a valid branch %q is not a pattern matching itself: %v", ref, err)
		}
	})
}
