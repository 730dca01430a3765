package pipeline

import (
	"bytes"
	"testing"
)

func BenchmarkParse(b *testing.B) {
	one := readTestdata(b, "azure-pipelines.yml")
	for _, tc := range []struct {
		name string
		src  []byte
	}{{"azure-pipelines.yml", one}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.src)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse("bench.yml", tc.src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// A 1 MiB pipeline: the stages section repeated.
	i := bytes.Index(one, []byte("  - stage: Build"))
	head, stages := one[:i], one[i:]
	var big bytes.Buffer
	big.Write(head)
	for big.Len() < 1<<20 {
		big.Write(stages)
	}
	b.Run("1MiB", func(b *testing.B) {
		b.SetBytes(int64(big.Len()))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Parse("bench.yml", big.Bytes()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkParseAzDeployments(b *testing.B) {
	script := []byte("az deployment group create \\\n  --resource-group rg \\\n  --template-file main.bicep \\\n  --parameters main.bicepparam adminPassword='x' n=3\n")
	s := string(bytes.Repeat(script, 100))
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		if len(ParseAzDeployments(s)) != 100 {
			b.Fatal("miscount")
		}
	}
}
