package rules

import (
	"strings"
	"testing"

	"github.com/stagegate/stagegate/pkg/gates/keyvault/kvtest"
)

// BenchmarkAnalyze measures phase 1 (classification, parsing, rules, credential scan) per file
// type on the clean corpus, in memory, to tell the parsers' cost from the rules' and from I/O.
func BenchmarkAnalyze(b *testing.B) {
	for _, ext := range []string{".json", ".bicep", ".bicepparam", ".tf", ".tfvars", ".yml", ".yaml"} {
		var files []kvtest.File
		var n int64
		for seed := uint64(1); seed <= 10; seed++ {
			for _, f := range kvtest.CleanCorpus(seed, "") {
				if strings.HasSuffix(f.Path, ext) {
					files = append(files, f)
					n += int64(len(f.Content))
				}
			}
		}
		b.Run(ext, func(b *testing.B) {
			b.SetBytes(n)
			b.ReportAllocs()
			for b.Loop() {
				for _, f := range files {
					if r := Analyze(f.Path, []byte(f.Content), nil); len(r.Issues) != 0 {
						b.Fatalf("%s: unexpected finding %s", f.Path, r.Issues[0].Message)
					}
				}
			}
		})
	}
}
