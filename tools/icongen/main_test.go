package main

import (
	"bytes"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The committed icons must be exactly what this program draws, so nobody edits a PNG by hand
// and loses it at the next regeneration.
func TestCommittedIconsAreCurrent(t *testing.T) {
	root := filepath.Join("..", "..")
	for _, ic := range icons() {
		t.Run(ic.path, func(t *testing.T) {
			want, err := encode(ic)
			require.NoError(t, err)
			got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(ic.path)))
			require.NoError(t, err)
			assert.True(t, bytes.Equal(want, got), "%s is stale: run `make icons`", ic.path)
		})
	}
}

func TestRender(t *testing.T) {
	for _, ic := range icons() {
		t.Run(ic.path, func(t *testing.T) {
			data, err := encode(ic)
			require.NoError(t, err)
			img, err := png.Decode(bytes.NewReader(data))
			require.NoError(t, err)
			assert.Equal(t, 128, img.Bounds().Dx())
			assert.Equal(t, 128, img.Bounds().Dy())

			nrgba := func(x, y int) color.NRGBA { return color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA) }
			assert.Zero(t, nrgba(2, 2).A, "corners outside the shield are transparent")
			assert.Zero(t, nrgba(64, 126).A, "below the shield's point is transparent")
			assert.Equal(t, ic.accent, nrgba(20, 64), "the shield's side is the accent colour")

			var white int
			for y := 0; y < 128; y++ {
				for x := 0; x < 128; x++ {
					if nrgba(x, y) == (color.NRGBA{0xFF, 0xFF, 0xFF, 0xFF}) {
						white++
					}
				}
			}
			assert.Greater(t, white, 300, "the glyph is drawn in white")
		})
	}
}

func TestRunWritesEveryIcon(t *testing.T) {
	root := t.TempDir()
	for _, ic := range icons() {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, filepath.FromSlash(ic.path))), 0o755))
	}
	require.NoError(t, run(root))
	for _, ic := range icons() {
		_, err := os.Stat(filepath.Join(root, filepath.FromSlash(ic.path)))
		assert.NoError(t, err)
	}
	require.Error(t, run(filepath.Join(root, "missing")), "an unwritable destination is an error")
}
