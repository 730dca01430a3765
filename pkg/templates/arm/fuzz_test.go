package arm

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stagegate/stagegate/pkg/templates/pos"
)

func addSeeds(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("\xef\xbb\xbf{\"a\": [1, 2,], /* c */ \"b\": \"x\ny\" // d\r\n}"))
	f.Add([]byte(`"\ud83d\ude00\u00e9"`))
	f.Add([]byte(`[[[[[[[[]]]]]]]]`))
}

var firstByte = map[Kind]string{Object: "{", Array: "[", String: `"`, Number: "-0123456789", Bool: "tf", Null: "n"}

func FuzzARM(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, src []byte) {
		root, err := Parse("fuzz.json", src)
		if err != nil {
			var pe *pos.Error
			if !errors.As(err, &pe) || pe.Line < 1 || pe.Col < 1 || pe.Path != "fuzz.json" {
				t.Fatalf("bad error %#v", err)
			}
			if json.Valid(src) && !errors.Is(err, pos.ErrLimit) {
				t.Fatalf("strict JSON refused: %v", err)
			}
			return
		}
		// With duplicate keys a pointer names the last duplicate, so the
		// round trip only holds for documents without them.
		dups := false
		Walk(root, func(n *Node) bool {
			seen := map[string]bool{}
			for _, m := range n.Members {
				dups = dups || seen[m.Key]
				seen[m.Key] = true
			}
			return true
		})
		last := -1
		Walk(root, func(n *Node) bool {
			if n.Pos.Offset <= last || n.Pos.Offset >= len(src) || n.End > len(src) || n.End <= n.Pos.Offset {
				t.Fatalf("bad span %v..%d after %d", n.Pos, n.End, last)
			}
			last = n.Pos.Offset
			if n.Pos.Line < 1 || n.Pos.Col < 1 {
				t.Fatalf("bad pos %v", n.Pos)
			}
			fb := firstByte[n.Kind]
			if !containsByte(fb, src[n.Pos.Offset]) {
				t.Fatalf("%s node starts with %q", n.Kind, src[n.Pos.Offset])
			}
			if !dups && root.Find(n.Pointer()) != n {
				t.Fatalf("pointer %q does not resolve", n.Pointer())
			}
			if n.Kind == String && IsExpression(n.Str) {
				if e, err := ParseExpr(n.Str); err == nil {
					for _, c := range Calls(e) {
						p := n.PosAt(c.NamePos)
						if p.Offset < n.Pos.Offset || p.Offset > n.End {
							t.Fatalf("call position %v outside string %v..%d", p, n.Pos, n.End)
						}
					}
				}
			}
			return true
		})
		_ = Classify(root)
		tpl := NewTemplate(root)
		for _, tt := range tpl.Templates() {
			for _, r := range tt.AllResources() {
				_ = r.FullType()
			}
			_ = tt.Outer()
		}
		pf := NewParametersFile(root)
		for _, p := range pf.Parameters {
			if p.Reference != nil {
				_ = p.Reference.VaultName()
			}
		}
	})
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

func FuzzExpr(f *testing.F) {
	f.Add("[concat('a', parameters('b'))]")
	f.Add("[listKeys(resourceId('Microsoft.Storage/storageAccounts', variables('n')), '2023-01-01').keys[0].value]")
	f.Add("[reference('x')['a b'].c]")
	f.Add("[if(equals(parameters('e'),'p'), 'it''s', -1)]")
	f.Add("[contoso.fn(true, false, null)]")
	f.Add("[[literal]")
	for _, name := range []string{"vm.json", "symbolic.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		root, err := Parse(name, b)
		if err != nil {
			f.Fatal(err)
		}
		Walk(root, func(n *Node) bool {
			if n.IsExpression() {
				f.Add(n.Str)
			}
			return true
		})
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseExpr(s)
		if err != nil {
			var ee *ExprError
			if !errors.As(err, &ee) || ee.Offset < 0 || ee.Offset > len(s) {
				t.Fatalf("bad error %#v", err)
			}
			return
		}
		WalkExpr(e, func(x Expr) bool {
			a, b := x.Span()
			if a < 1 || b > len(s)-1 || a >= b {
				t.Fatalf("bad span %d..%d of %q", a, b, s)
			}
			return true
		})
		canon := ExprString(e)
		e2, err := ParseExpr("[" + canon + "]")
		if err != nil {
			t.Fatalf("canonical form %q does not parse: %v", canon, err)
		}
		if ExprString(e2) != canon {
			t.Fatalf("round trip %q -> %q", canon, ExprString(e2))
		}
	})
}
