package testfiles

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestModuleRoot(t *testing.T) {
	root := ModuleRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	assert.Contains(t, string(data), "module github.com/stagegate/stagegate")
}

func TestWriteTree(t *testing.T) {
	dir := WriteTree(t, map[string]string{"a.txt": "A", "deep/er/b.json": "{}"})
	for p, want := range map[string]string{"a.txt": "A", "deep/er/b.json": "{}"} {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		require.NoError(t, err)
		assert.Equal(t, want, string(got))
	}
}
