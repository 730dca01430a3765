package bicep

import (
	"bytes"
	"testing"
)

func BenchmarkParse(b *testing.B) {
	one := readTestdata(b, "main.bicep")
	var big bytes.Buffer
	for big.Len() < 1<<20 {
		big.Write(one)
		big.WriteByte('\n')
	}
	for _, tc := range []struct {
		name string
		src  []byte
	}{{"main.bicep", one}, {"1MiB", big.Bytes()}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.src)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse("bench.bicep", tc.src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseParams(b *testing.B) {
	src := readTestdata(b, "main.bicepparam")
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseParams("bench.bicepparam", src); err != nil {
			b.Fatal(err)
		}
	}
}
