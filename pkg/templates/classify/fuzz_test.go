package classify

import (
	"os"
	"path/filepath"
	"testing"
)

func FuzzClassify(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds: %v", err)
	}
	for i, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), b)
	}
	exts := []string{".json", ".bicep", ".bicepparam", ".tf", ".tfvars", ".yml", ".txt", ""}
	f.Fuzz(func(t *testing.T, ext uint8, src []byte) {
		path := "f" + exts[int(ext)%len(exts)]
		r := Analyze(path, src)
		if k := Classify(path, src); k != r.Kind {
			t.Fatalf("Classify %s != Analyze %s", k, r.Kind)
		}
		if r.Err == nil && r.Kind == ARMTemplate && r.Template == nil {
			t.Fatal("template without view")
		}
	})
}
