package terraform

import (
	"bytes"
	"fmt"
	"testing"
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
