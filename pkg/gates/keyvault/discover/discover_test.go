package discover

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func write(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
}

func defaults(t *testing.T) Options {
	inc, err := Compile("include", []string{"**/*.json", "**/*.bicep", "**/*.yml"})
	require.NoError(t, err)
	exc, err := Compile("exclude", []string{"**/node_modules/**", "**/.git/**", "build/out.json"})
	require.NoError(t, err)
	return Options{Include: inc, Exclude: exc}
}

func TestWalk(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	write(t, outside, "secret.json", `{"a":1}`)
	for _, f := range []string{"b/main.bicep", "a.json", "B/UPPER.JSON", "node_modules/x/pkg.json", "sub/node_modules/y.json",
		".git/config.json", "build/out.json", "build/keep.json", "readme.md", "c/pipeline.yml"} {
		write(t, root, f, "{}")
	}
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret.json"), filepath.Join(root, "leak.json")))
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "outdir")))
	require.NoError(t, os.Symlink("a.json", filepath.Join(root, "alias.json")))

	var got []string
	st, err := Walk(context.Background(), root, defaults(t), func(f File) error {
		got = append(got, f.Path)
		assert.Equal(t, int64(2), f.Size)
		assert.FileExists(t, f.Abs)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"B/UPPER.JSON", "a.json", "b/main.bicep", "build/keep.json", "c/pipeline.yml"}, got)
	assert.Equal(t, 4, st.Excluded) // .git, build/out.json, node_modules, sub/node_modules
	assert.Equal(t, 1, st.Unmatched)
	require.Len(t, st.Links, 3)
	byPath := map[string]Link{}
	for _, l := range st.Links {
		byPath[l.Path] = l
	}
	assert.True(t, byPath["leak.json"].Outside)
	assert.True(t, byPath["outdir"].Outside)
	assert.False(t, byPath["alias.json"].Outside)
	assert.Equal(t, "a.json", byPath["alias.json"].Target)
	assert.Empty(t, st.Problems)
}

func TestWalkRootThroughSymlink(t *testing.T) {
	real := t.TempDir()
	write(t, real, "x/a.json", "{}")
	link := filepath.Join(t.TempDir(), "root")
	require.NoError(t, os.Symlink(real, link))
	var got []string
	_, err := Walk(context.Background(), link, defaults(t), func(f File) error { got = append(got, f.Path); return nil })
	require.NoError(t, err)
	assert.Equal(t, []string{"x/a.json"}, got)
}

func TestWalkErrors(t *testing.T) {
	_, err := Compile("include", []string{"**/[a.json"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `include: "**/[a.json"`)

	_, err = Walk(context.Background(), filepath.Join(t.TempDir(), "missing"), Options{}, func(File) error { return nil })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "root directory")

	root := t.TempDir()
	write(t, root, "f.json", "{}")
	_, err = Walk(context.Background(), filepath.Join(root, "f.json"), Options{}, func(File) error { return nil })
	require.ErrorContains(t, err, "not a directory")

	stop := errors.New("stop")
	_, err = Walk(context.Background(), root, defaults(t), func(File) error { return stop })
	require.ErrorIs(t, err, stop)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Walk(ctx, root, defaults(t), func(File) error { return nil })
	require.ErrorIs(t, err, context.Canceled)
}

func TestCompileNormalises(t *testing.T) {
	g, err := Compile("include", []string{" ./Infra/**/*.JSON ", "", `win\path\*.json`})
	require.NoError(t, err)
	assert.Equal(t, []string{"infra/**/*.json", "win/path/*.json"}, g)
}
