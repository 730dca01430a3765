package arm

import (
	"bytes"
	"testing"
)

// bigTemplate builds a ~1 MiB template by repeating the realistic vm.json
// as inline nested deployments.
func bigTemplate(b *testing.B) []byte {
	one := readTestdata(b, "vm.json")
	var buf bytes.Buffer
	buf.WriteString(`{"$schema":"https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#","contentVersion":"1.0.0.0","resources":[`)
	for i := 0; buf.Len() < 1<<20; i++ {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(`{"type":"Microsoft.Resources/deployments","apiVersion":"2022-09-01","name":"n","properties":{"mode":"Incremental","template":`)
		buf.Write(one)
		buf.WriteString("}}\n")
	}
	buf.WriteString("]}")
	return buf.Bytes()
}

func BenchmarkParse(b *testing.B) {
	for _, tc := range []struct {
		name string
		src  func(*testing.B) []byte
	}{
		{"vm.json", func(b *testing.B) []byte { return readTestdata(b, "vm.json") }},
		{"1MiB", bigTemplate},
	} {
		src := tc.src(b)
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse("bench.json", src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTemplateAndExpressions measures what a rule pass needs: parse,
// typed view over every nested template, and every expression parsed.
func BenchmarkTemplateAndExpressions(b *testing.B) {
	src := bigTemplate(b)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		root, err := Parse("bench.json", src)
		if err != nil {
			b.Fatal(err)
		}
		tpl := NewTemplate(root)
		n := 0
		for _, t := range tpl.Templates() {
			n += len(t.AllResources())
		}
		Walk(root, func(x *Node) bool {
			if x.Kind == String && IsExpression(x.Str) {
				e, err := ParseExpr(x.Str)
				if err == nil {
					n += len(Calls(e))
				}
			}
			return true
		})
		if n == 0 {
			b.Fatal("nothing found")
		}
	}
}
