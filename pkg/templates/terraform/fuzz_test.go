package terraform

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stagegate/stagegate/pkg/templates/pos"
)

func FuzzTerraform(f *testing.F) {
	for _, pattern := range []string{"*.tf", "*.tfvars"} {
		files, err := filepath.Glob(filepath.Join("testdata", pattern))
		if err != nil || len(files) == 0 {
			f.Fatalf("no seeds for %s: %v", pattern, err)
		}
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte("x = \"${a}%{if b}c%{endif}\"\ny = <<EOT\n${z}\nEOT\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Parse("fuzz.tf", src)
		if err != nil {
			var pe *pos.Error
			if !errors.As(err, &pe) || pe.Line < 1 || pe.Col < 1 || pe.Path != "fuzz.tf" {
				t.Fatalf("bad error %#v", err)
			}
			return
		}
		bom := pos.BOMLen(src)
		check := func(a *Attribute) {
			if a.NamePos.Offset < 0 || a.NamePos.Offset >= len(src) || a.Pos.Offset < a.NamePos.Offset || a.Pos.Offset > len(src) {
				t.Fatalf("bad positions for %s: %v %v", a.Name, a.NamePos, a.Pos)
			}
			if src[a.NamePos.Offset] != a.Name[0] {
				t.Fatalf("name position of %s points at %q", a.Name, src[a.NamePos.Offset])
			}
			for _, r := range References(a.Expr, bom) {
				if r.Pos.Offset < 0 || r.Pos.Offset >= len(src) || !r.HasPrefix(r.Root) {
					t.Fatalf("bad reference %+v", r)
				}
			}
			_ = ObjectItems(a.Expr, bom)
		}
		for _, a := range file.Assignments {
			check(a)
		}
		for _, a := range file.Locals {
			check(a)
		}
		for _, group := range [][]*Block{file.Resources, file.Data, file.Providers, file.Modules, file.Other} {
			for _, b := range group {
				b.Walk(func(b *Block) {
					for _, a := range b.Attributes {
						check(a)
					}
				})
			}
		}
		for _, v := range file.Variables {
			_ = v.Sensitive
		}
	})
}
