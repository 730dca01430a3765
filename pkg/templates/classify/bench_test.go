package classify

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkAnalyzeMix runs Analyze over every testdata file (templates,
// parameters, Bicep, Terraform, pipelines, other JSON/YAML) and reports the
// aggregate throughput.
func BenchmarkAnalyzeMix(b *testing.B) {
	files, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil {
		b.Fatal(err)
	}
	type file struct {
		path string
		src  []byte
	}
	var corpus []file
	total := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		corpus = append(corpus, file{f, src})
		total += len(src)
	}
	for _, mode := range []struct {
		name string
		fn   func(string, []byte) Kind
	}{
		{"Analyze", func(p string, s []byte) Kind { return Analyze(p, s).Kind }},
		{"Classify", Classify},
	} {
		b.Run(mode.name, func(b *testing.B) {
			b.SetBytes(int64(total))
			b.ReportAllocs()
			for b.Loop() {
				for _, f := range corpus {
					if mode.fn(f.path, f.src) == Binary {
						b.Fatal("binary")
					}
				}
			}
		})
	}
}
