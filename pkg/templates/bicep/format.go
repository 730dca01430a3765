package bicep

import (
	"strings"
)

// ExprString renders e in a compact canonical form, for messages and tests:
// strings in single quotes with interpolations as ${...}, objects as
// {k:v,...}, arrays as [a,b], binary operators parenthesised.
func ExprString(e Expr) string {
	var b strings.Builder
	writeExpr(&b, e)
	return b.String()
}

func writeExpr(b *strings.Builder, e Expr) {
	switch x := e.(type) {
	case nil:
		b.WriteString("<nil>")
	case *Ident:
		b.WriteString(x.Name)
	case *IntLit:
		b.WriteString(x.Text)
	case *BoolLit:
		if x.Value {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case *NullLit:
		b.WriteString("null")
	case *StringLit:
		b.WriteByte('\'')
		for i, s := range x.Segments {
			r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\r", `\r`, "\t", `\t`, "${", `\${`)
			b.WriteString(r.Replace(s))
			if i < len(x.Exprs) {
				b.WriteString("${")
				writeExpr(b, x.Exprs[i])
				b.WriteByte('}')
			}
		}
		b.WriteByte('\'')
	case *ObjectLit:
		b.WriteByte('{')
		for i, p := range x.Props {
			if i > 0 {
				b.WriteByte(',')
			}
			switch {
			case p.Spread:
				b.WriteString("...")
			case p.KeyExpr != nil:
				writeExpr(b, p.KeyExpr)
				b.WriteByte(':')
			case isIdent(p.Key):
				b.WriteString(p.Key)
				b.WriteByte(':')
			default:
				writeExpr(b, newString(Span{}, p.Key, false))
				b.WriteByte(':')
			}
			writeExpr(b, p.Value)
		}
		for _, r := range x.Resources {
			b.WriteString(",resource ")
			b.WriteString(r.Symbol)
		}
		b.WriteByte('}')
	case *ArrayLit:
		b.WriteByte('[')
		for i, it := range x.Items {
			if i > 0 {
				b.WriteByte(',')
			}
			writeExpr(b, it)
		}
		b.WriteByte(']')
	case *ForExpr:
		b.WriteString("[for ")
		if x.IndexVar != "" {
			b.WriteString("(" + x.ItemVar + "," + x.IndexVar + ")")
		} else {
			b.WriteString(x.ItemVar)
		}
		b.WriteString(" in ")
		writeExpr(b, x.Iterable)
		b.WriteString(": ")
		if x.Condition != nil {
			b.WriteString("if (")
			writeExpr(b, x.Condition)
			b.WriteString(") ")
		}
		writeExpr(b, x.Body)
		b.WriteByte(']')
	case *Call:
		if x.Base != nil {
			writeExpr(b, x.Base)
			b.WriteByte('.')
		}
		b.WriteString(x.Name)
		b.WriteByte('(')
		for i, a := range x.Args {
			if i > 0 {
				b.WriteByte(',')
			}
			writeExpr(b, a)
		}
		b.WriteByte(')')
	case *Member:
		writeExpr(b, x.X)
		if x.Safe {
			b.WriteString(".?")
		} else {
			b.WriteByte('.')
		}
		b.WriteString(x.Name)
	case *Index:
		writeExpr(b, x.X)
		b.WriteByte('[')
		if x.Safe {
			b.WriteByte('?')
		}
		writeExpr(b, x.Index)
		b.WriteByte(']')
	case *Unary:
		b.WriteString(x.Op)
		writeExpr(b, x.X)
	case *Binary:
		b.WriteByte('(')
		writeExpr(b, x.X)
		b.WriteString(" " + x.Op + " ")
		writeExpr(b, x.Y)
		b.WriteByte(')')
	case *Ternary:
		b.WriteByte('(')
		writeExpr(b, x.Cond)
		b.WriteString(" ? ")
		writeExpr(b, x.Then)
		b.WriteString(" : ")
		writeExpr(b, x.Else)
		b.WriteByte(')')
	case *Lambda:
		b.WriteString("((" + strings.Join(x.Params, ",") + ") => ")
		writeExpr(b, x.Body)
		b.WriteByte(')')
	case *NonNull:
		writeExpr(b, x.X)
		b.WriteByte('!')
	}
}

func isIdent(s string) bool {
	if s == "" || !isIdentStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIdentChar(s[i]) {
			return false
		}
	}
	return true
}
