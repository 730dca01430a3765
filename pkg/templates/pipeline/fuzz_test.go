package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stagegate/stagegate/pkg/templates/pos"
)

func FuzzPipeline(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yml"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(billionLaughs(3)))
	f.Add([]byte("a: &x {b: *x}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		doc, err := ParseYAML("fuzz.yml", src)
		if err != nil {
			var pe *pos.Error
			if !errors.As(err, &pe) || pe.Line < 1 || pe.Col < 1 || pe.Path != "fuzz.yml" {
				t.Fatalf("bad error %#v", err)
			}
			return
		}
		_ = IsPipeline(doc)
		p, err := Build(doc)
		if err != nil {
			return
		}
		checkPos := func(what string, ps pos.Pos) {
			if ps.IsValid() && (ps.Offset < 0 || ps.Offset > len(src) || ps.Col < 1) {
				t.Fatalf("%s: bad position %+v", what, ps)
			}
		}
		for _, v := range p.AllVariables {
			checkPos("variable", v.NamePos)
			checkPos("value", v.ValuePos)
		}
		for _, s := range p.AllSteps {
			checkPos("step", s.Pos)
			for _, kv := range append(append([]*KeyValue{}, s.Inputs...), s.Env...) {
				checkPos("key", kv.KeyPos)
				for _, d := range ParseAzDeployments(kv.Value) {
					checkPos("az line", doc.LinePos(kv.Node, d.Line))
				}
				for _, o := range ParseOverrideParameters(kv.Value) {
					if o.Offset >= len(kv.Value) || kv.Value[o.Offset] != '-' || o.ValueOffset > len(kv.Value) {
						t.Fatalf("bad override %+v in %q", o, kv.Value)
					}
				}
			}
			if s.ScriptNode != nil {
				for range ParseAzDeployments(s.Script) {
				}
			}
		}
	})
}
