package terraform

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/stagegate/stagegate/pkg/gates/keyvault/kvtest"
)

func BenchmarkParse(b *testing.B) {
	one := readTestdata(b, "main.tf")
	var big bytes.Buffer
	for i := 0; big.Len() < 1<<20; i++ {
		// Rename blocks so the big file stays valid (no duplicate blocks
		// matter to HCL, but keep it realistic).
		big.Write(bytes.ReplaceAll(one, []byte(`"sql"`), []byte(fmt.Sprintf(`"sql%d"`, i))))
	}
	for _, tc := range []struct {
		name string
		src  []byte
	}{{"main.tf", one}, {"1MiB", big.Bytes()}, {"prod.tfvars", readTestdata(b, "prod.tfvars")}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.src)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse("bench.tf", tc.src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseGenerated parses every .tf and .tfvars file of a generated Terraform tree
// (the corpus make bench scans), once with hclsyntax.ParseConfig alone and once with Parse, so
// the cost of the model built on top of the syntax tree shows apart from HCL's own.
func BenchmarkParseGenerated(b *testing.B) {
	files, size := generatedFiles(b, ".tf", ".tfvars")
	b.Run("hclsyntax.ParseConfig", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			for _, f := range files {
				if _, diags := hclsyntax.ParseConfig(f.src, f.path, hcl.InitialPos); diags.HasErrors() {
					b.Fatal(diags)
				}
			}
		}
	})
	b.Run("Parse", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			for _, f := range files {
				if _, err := Parse(f.path, f.src); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

type srcFile struct {
	path string
	src  []byte
}

// generatedFiles reads the files with the given extensions from a 2 MB Terraform-only
// corpusgen tree.
func generatedFiles(b *testing.B, exts ...string) ([]srcFile, int64) {
	b.Helper()
	dir := b.TempDir()
	if _, err := kvtest.GenerateMixedTree(context.Background(), dir, 2_000_000, kvtest.MixOptions{Seed: 1, Mix: kvtest.Mix{Terraform: 1}}); err != nil {
		b.Fatal(err)
	}
	var files []srcFile
	var size int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !slices.Contains(exts, filepath.Ext(p)) {
			return err
		}
		src, err := os.ReadFile(p)
		files = append(files, srcFile{p, src})
		size += int64(len(src))
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return files, size
}
