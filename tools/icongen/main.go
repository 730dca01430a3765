// Command icongen draws the 128x128 PNG icons of the tasks and of the extension. The icons are
// committed; a test fails when they differ from what this program draws, so change the drawing
// here and run `make icons` (go run ./tools/icongen) from the repository root.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
)

const (
	size = 128
	// samples per pixel side: 4x4 supersampling gives smooth edges without an imaging library.
	samples = 4
)

// shape reports whether the point (x, y), in units of the icon width (0..1, y down), is inside.
type shape func(x, y float64) bool

type icon struct {
	path   string // relative to the repository root
	accent color.NRGBA
	glyph  shape
}

func icons() []icon {
	return []icon{
		{"tasks/SecurityWorkItemGate/icon.png", color.NRGBA{0xC6, 0x28, 0x28, 0xFF}, listGlyph},
		{"tasks/ProductionReviewGate/icon.png", color.NRGBA{0x15, 0x65, 0xC0, 0xFF}, checkGlyph},
		{"tasks/KeyVaultReferenceGate/icon.png", color.NRGBA{0x00, 0x79, 0x6B, 0xFF}, keyGlyph},
		{"tasks/extension-icon.png", color.NRGBA{0x37, 0x47, 0x4F, 0xFF}, gateGlyph},
	}
}

// shield is the common outline: straight sides, an elliptical lower half ending in a point.
func shield(x, y float64) bool {
	const top, shoulder, bottom, half = 0.06, 0.50, 0.95, 0.38
	switch {
	case y < top || y > bottom:
		return false
	case y <= shoulder:
		// A gentle dip in the top edge.
		dip := 0.03 * math.Cos((x-0.5)*math.Pi/half/2)
		return math.Abs(x-0.5) <= half && y >= top+dip
	default:
		t := (y - shoulder) / (bottom - shoulder)
		return math.Abs(x-0.5) <= half*math.Sqrt(1-t*t)
	}
}

func rect(x0, y0, x1, y1 float64) shape {
	return func(x, y float64) bool { return x >= x0 && x <= x1 && y >= y0 && y <= y1 }
}

func disc(cx, cy, r float64) shape {
	return func(x, y float64) bool { return (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r }
}

// segment is a thick line with round ends.
func segment(ax, ay, bx, by, width float64) shape {
	return func(x, y float64) bool {
		dx, dy := bx-ax, by-ay
		t := ((x-ax)*dx + (y-ay)*dy) / (dx*dx + dy*dy)
		t = math.Max(0, math.Min(1, t))
		px, py := ax+t*dx-x, ay+t*dy-y
		return px*px+py*py <= width*width/4
	}
}

func union(shapes ...shape) shape {
	return func(x, y float64) bool {
		for _, s := range shapes {
			if s(x, y) {
				return true
			}
		}
		return false
	}
}

func minus(a, b shape) shape {
	return func(x, y float64) bool { return a(x, y) && !b(x, y) }
}

// listGlyph: a list of work items.
var listGlyph = union(
	disc(0.33, 0.30, 0.04), rect(0.41, 0.27, 0.69, 0.33),
	disc(0.33, 0.44, 0.04), rect(0.41, 0.41, 0.69, 0.47),
	disc(0.33, 0.58, 0.04), rect(0.41, 0.55, 0.69, 0.61),
)

// checkGlyph: an approval.
var checkGlyph = union(
	segment(0.31, 0.46, 0.45, 0.60, 0.09),
	segment(0.45, 0.60, 0.70, 0.30, 0.09),
)

// keyGlyph: a key with a ring, a shaft and two teeth.
var keyGlyph = union(
	minus(disc(0.35, 0.43, 0.12), disc(0.35, 0.43, 0.055)),
	rect(0.45, 0.40, 0.72, 0.46),
	rect(0.60, 0.46, 0.64, 0.56),
	rect(0.67, 0.46, 0.71, 0.53),
)

// gateGlyph: a barrier between two posts.
var gateGlyph = union(
	rect(0.28, 0.24, 0.35, 0.66),
	rect(0.65, 0.24, 0.72, 0.66),
	rect(0.28, 0.33, 0.72, 0.40),
	rect(0.28, 0.49, 0.72, 0.56),
)

// render draws the accent-coloured shield with the glyph cut out in white.
func render(ic icon) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	white := color.NRGBA{0xFF, 0xFF, 0xFF, 0xFF}
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var inShield, inGlyph int
			for sy := 0; sy < samples; sy++ {
				for sx := 0; sx < samples; sx++ {
					x := (float64(px) + (float64(sx)+0.5)/samples) / size
					y := (float64(py) + (float64(sy)+0.5)/samples) / size
					if shield(x, y) {
						inShield++
						if ic.glyph(x, y) {
							inGlyph++
						}
					}
				}
			}
			if inShield == 0 {
				continue
			}
			// Blend glyph white over the accent in proportion to coverage; alpha is the
			// shield's coverage, so the edge is smooth on any background.
			g := float64(inGlyph) / float64(inShield)
			mix := func(a, b uint8) uint8 { return uint8(math.Round(float64(a)*(1-g) + float64(b)*g)) }
			img.SetNRGBA(px, py, color.NRGBA{
				R: mix(ic.accent.R, white.R),
				G: mix(ic.accent.G, white.G),
				B: mix(ic.accent.B, white.B),
				A: uint8(math.Round(255 * float64(inShield) / samples / samples)),
			})
		}
	}
	return img
}

func encode(ic icon) ([]byte, error) {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, render(ic)); err != nil {
		return nil, fmt.Errorf("encode %s: %w", ic.path, err)
	}
	return buf.Bytes(), nil
}

func run(root string) error {
	for _, ic := range icons() {
		data, err := encode(ic)
		if err != nil {
			return err
		}
		out := filepath.Join(root, filepath.FromSlash(ic.path))
		if err := os.WriteFile(out, data, 0o644); err != nil {
			return fmt.Errorf("write icon: %w", err)
		}
		fmt.Printf("%s (%d bytes)\n", out, len(data))
	}
	return nil
}

func main() {
	root := flag.String("root", ".", "repository root")
	flag.Parse()
	if err := run(*root); err != nil {
		fmt.Fprintln(os.Stderr, "icongen:", err)
		os.Exit(1)
	}
}
