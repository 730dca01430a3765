package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stagegate/stagegate/pkg/gates/keyvault/kvtest"
)

var fuzzExts = []string{".json", ".bicep", ".bicepparam", ".tf", ".tfvars", ".yml", ".txt"}

// FuzzAnalyze feeds arbitrary content, under every file name the gate classifies, through
// phase 1 and phase 2: nothing may panic, positions must be sane, and no canary credential may
// reach a message.
func FuzzAnalyze(f *testing.F) {
	c := kvtest.NewCanaries(11)
	root := filepath.Join("..", "..", "..", "..", "examples", "keyvault")
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, rerr := os.ReadFile(p)
		if rerr != nil {
			return nil
		}
		for i, ext := range fuzzExts {
			if strings.HasSuffix(p, ext) {
				f.Add(uint8(i), b)
			}
		}
		return nil
	})
	f.Add(uint8(0), []byte(armHead+`"parameters": {"p": {"type": "securestring", "defaultValue": "`+c.PlainPassword+`"}}, "resources": []}`))
	f.Add(uint8(5), []byte("variables:\n  dbPassword: "+c.PlainPassword+"\nsteps:\n  - script: x\n"))
	f.Add(uint8(6), []byte(c.ConnString+"\n"+c.PrivateKeyPEM))
	f.Fuzz(func(t *testing.T, ext uint8, content []byte) {
		name := "f" + fuzzExts[int(ext)%len(fuzzExts)]
		r := Analyze(name, content, nil)
		cross := Pair([]Summarized{{Path: r.Path, Format: r.Format, Summary: r.Summary}})
		for _, is := range Merge(r.Issues, cross.Issues[name]) {
			if is.Line < 0 || is.Column < 0 || is.Rule == "" || is.Message == "" {
				t.Fatalf("bad issue %+v", is)
			}
			if leaked := c.Leaks(is.Message); len(leaked) > 0 {
				t.Fatalf("message leaks %v: %s", leaked, is.Message)
			}
		}
	})
}
