package bicep

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stagegate/stagegate/pkg/templates/pos"
)

func addSeeds(f *testing.F, pattern string) {
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

func checkErr(t *testing.T, err error, path string) {
	var pe *pos.Error
	if !errors.As(err, &pe) || pe.Line < 1 || pe.Col < 1 || pe.Path != path {
		t.Fatalf("bad error %#v", err)
	}
}

// checkExpr verifies positions and that the canonical rendering of e parses
// back to the same rendering.
func checkExpr(t *testing.T, src []byte, e Expr) {
	hasResources := false
	Walk(e, func(x Expr) bool {
		p := x.Pos()
		if p.Line < 1 || p.Col < 1 || p.Offset < 0 || p.Offset > len(src) || x.End() < p.Offset || x.End() > len(src) {
			t.Fatalf("bad span %v..%d for %T", p, x.End(), x)
		}
		if o, ok := x.(*ObjectLit); ok && len(o.Resources) > 0 {
			hasResources = true
		}
		return true
	})
	if hasResources {
		return
	}
	canon := ExprString(e)
	f, err := Parse("canon.bicep", []byte("var x = "+canon+"\n"))
	if err != nil {
		t.Fatalf("canonical form %q does not parse: %v", canon, err)
	}
	if got := ExprString(f.Vars[0].Value); got != canon {
		t.Fatalf("round trip %q -> %q", canon, got)
	}
}

func FuzzBicep(f *testing.F) {
	addSeeds(f, "*.bicep")
	f.Add([]byte("var x = '${a}${'${b}'}'\nvar y = [for (a, i) in b: if (c) { d: a.?e[?0]! }]"))
	f.Add([]byte("var z = x => y ?? (a, b) => a\nvar m = '''\nmulti\n'''"))
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Parse("fuzz.bicep", src)
		if err != nil {
			checkErr(t, err, "fuzz.bicep")
			return
		}
		for _, v := range file.Vars {
			checkExpr(t, src, v.Value)
		}
		for _, p := range file.Params {
			if p.Default != nil {
				checkExpr(t, src, p.Default)
			}
			_ = p.BaseType()
		}
		for _, r := range file.AllResources() {
			_ = r.FullType()
			checkExpr(t, src, r.Value)
		}
		for _, m := range file.Modules {
			checkExpr(t, src, m.Value)
		}
		for _, o := range file.Outputs {
			checkExpr(t, src, o.Value)
		}
		_ = file.ExistingVaults()
	})
}

func FuzzBicepParam(f *testing.F) {
	addSeeds(f, "*.bicepparam")
	f.Add([]byte("using none\nparam a = getSecret('s', 'r', 'v', 'n')\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		pf, err := ParseParams("fuzz.bicepparam", src)
		if err != nil {
			checkErr(t, err, "fuzz.bicepparam")
			return
		}
		for _, a := range pf.Params {
			checkExpr(t, src, a.Value)
			for _, c := range Calls(a.Value) {
				_, _ = AsGetSecret(c)
			}
		}
		for _, v := range pf.Vars {
			checkExpr(t, src, v.Value)
		}
	})
}
