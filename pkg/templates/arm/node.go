// Package arm parses Azure Resource Manager JSON documents (templates and
// parameter files) into a position-keeping tree, classifies them, exposes
// typed views (Template, ParametersFile) and parses ARM template
// expressions ("[concat(parameters('a'), 'b')]").
//
// Positions follow package pos: 1-based line and column, columns counted in
// characters. The JSON dialect is the one Azure Resource Manager accepts:
// // and /* */ comments, trailing commas, a leading byte order mark, CRLF
// line endings and raw line breaks inside strings (multi-line strings).
package arm

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/stagegate/stagegate/pkg/templates/pos"
)

// Kind is the JSON type of a Node.
type Kind uint8

// JSON value kinds.
const (
	Invalid Kind = iota
	Object
	Array
	String
	Number
	Bool
	Null
)

func (k Kind) String() string {
	switch k {
	case Object:
		return "object"
	case Array:
		return "array"
	case String:
		return "string"
	case Number:
		return "number"
	case Bool:
		return "bool"
	case Null:
		return "null"
	}
	return "invalid"
}

// Node is one JSON value.
type Node struct {
	Kind Kind
	// Pos is where the value starts (the opening quote of a string, the
	// brace of an object).
	Pos pos.Pos
	// End is the byte offset just past the value.
	End int
	// Str is the decoded value of a String, or the literal text of a Number
	// (e.g. "1.5e3"), so no precision is lost.
	Str string
	// Bool is the value of a Bool.
	Bool bool
	// Escaped is true for a String whose source contains escape sequences,
	// so offsets inside Str do not map one-to-one to source bytes.
	Escaped bool
	// Members of an Object in source order (duplicates kept).
	Members []Member
	// Items of an Array.
	Items []*Node

	parent *Node
	index  int32 // position in parent's Members or Items
}

// Member is one key/value pair of an object.
type Member struct {
	Key    string
	KeyPos pos.Pos // the opening quote of the key
	Value  *Node
}

// Parent returns the enclosing object or array, nil for the root.
func (n *Node) Parent() *Node {
	if n == nil {
		return nil
	}
	return n.parent
}

// Key returns the member name under which n sits in its parent object, or
// "" when n is the root or an array item.
func (n *Node) Key() string {
	if n == nil || n.parent == nil || n.parent.Kind != Object {
		return ""
	}
	return n.parent.Members[n.index].Key
}

// KeyPos returns the position of the member name under which n sits, or
// n.Pos when n is not an object member.
func (n *Node) KeyPos() pos.Pos {
	if n == nil {
		return pos.Pos{}
	}
	if n.parent == nil || n.parent.Kind != Object {
		return n.Pos
	}
	return n.parent.Members[n.index].KeyPos
}

// Index returns n's index in its parent array, or -1.
func (n *Node) Index() int {
	if n == nil || n.parent == nil || n.parent.Kind != Array {
		return -1
	}
	return int(n.index)
}

// Get returns the value of the member named key, matched ASCII
// case-insensitively as Azure Resource Manager does. With duplicate keys the
// last one wins. Get is nil-safe and returns nil for non-objects.
func (n *Node) Get(key string) *Node {
	m, ok := n.Lookup(key)
	if !ok {
		return nil
	}
	return m.Value
}

// Lookup is Get returning the whole member (for its KeyPos).
func (n *Node) Lookup(key string) (Member, bool) {
	if n == nil || n.Kind != Object {
		return Member{}, false
	}
	for i := len(n.Members) - 1; i >= 0; i-- {
		if equalFoldASCII(n.Members[i].Key, key) {
			return n.Members[i], true
		}
	}
	return Member{}, false
}

// Dig follows a chain of member names (case-insensitive): n.Dig("properties",
// "template") is n.Get("properties").Get("template").
func (n *Node) Dig(keys ...string) *Node {
	for _, k := range keys {
		n = n.Get(k)
		if n == nil {
			return nil
		}
	}
	return n
}

// StringValue returns the string and true for a String node.
func (n *Node) StringValue() (string, bool) {
	if n == nil || n.Kind != String {
		return "", false
	}
	return n.Str, true
}

// IsExpression reports whether n is a string holding an ARM template
// expression (see IsExpression).
func (n *Node) IsExpression() bool {
	return n != nil && n.Kind == String && IsExpression(n.Str)
}

// Pointer returns the RFC 6901 JSON pointer of n ("" for the root).
func (n *Node) Pointer() string {
	if n == nil || n.parent == nil {
		return ""
	}
	var segs []string
	for c := n; c.parent != nil; c = c.parent {
		if c.parent.Kind == Object {
			segs = append(segs, escapePointer(c.parent.Members[c.index].Key))
		} else {
			segs = append(segs, strconv.Itoa(int(c.index)))
		}
	}
	var b strings.Builder
	for i := len(segs) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(segs[i])
	}
	return b.String()
}

// PosAt returns the source position of byte offset off inside the decoded
// string Str. It is exact for strings without escape sequences (the usual
// case for template expressions) and falls back to n.Pos otherwise.
func (n *Node) PosAt(off int) pos.Pos {
	if n == nil {
		return pos.Pos{}
	}
	if n.Kind != String || n.Escaped || off < 0 || off > len(n.Str) {
		return n.Pos
	}
	p := pos.Pos{Offset: n.Pos.Offset + 1, Line: n.Pos.Line, Col: n.Pos.Col + 1}
	s := n.Str[:off]
	if nl := strings.LastIndexByte(s, '\n'); nl >= 0 {
		p.Line += strings.Count(s, "\n")
		p.Col = 1
		p.Offset += nl + 1
		s = s[nl+1:]
	}
	p.Col += utf8.RuneCountInString(s)
	p.Offset += len(s)
	return p
}

// Find resolves an RFC 6901 JSON pointer below n (exact key match). It
// returns nil when the pointer does not resolve.
func (n *Node) Find(pointer string) *Node {
	if pointer == "" {
		return n
	}
	if pointer[0] != '/' {
		return nil
	}
	cur := n
	for _, seg := range strings.Split(pointer[1:], "/") {
		seg = unescapePointer(seg)
		switch {
		case cur == nil:
			return nil
		case cur.Kind == Object:
			var next *Node
			for i := len(cur.Members) - 1; i >= 0; i-- {
				if cur.Members[i].Key == seg {
					next = cur.Members[i].Value
					break
				}
			}
			cur = next
		case cur.Kind == Array:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(cur.Items) {
				return nil
			}
			cur = cur.Items[i]
		default:
			return nil
		}
	}
	return cur
}

// Walk calls fn for n and every node below it, depth first in source order.
// When fn returns false the children of that node are skipped.
func Walk(n *Node, fn func(*Node) bool) {
	if n == nil || !fn(n) {
		return
	}
	switch n.Kind {
	case Object:
		for i := range n.Members {
			Walk(n.Members[i].Value, fn)
		}
	case Array:
		for _, it := range n.Items {
			Walk(it, fn)
		}
	}
}

func escapePointer(s string) string {
	if strings.IndexByte(s, '~') < 0 && strings.IndexByte(s, '/') < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func unescapePointer(s string) string {
	if strings.IndexByte(s, '~') < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
