// Package pipeline parses Azure Pipelines YAML into a model of stages,
// jobs, steps (tasks and scripts with their inputs and env) and variables,
// all with positions; it also offers safe YAML decoding for any YAML file
// and parsers for the deployment command lines found in pipelines (az
// deployment ... / overrideParameters).
//
// Positions follow package pos: 1-based line and column in characters,
// Offset in bytes.
package pipeline

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/stagegate/stagegate/pkg/templates/pos"
)

// Document is a safely decoded YAML file.
type Document struct {
	Path string
	Src  []byte
	// Root is the content node of the first document (usually a mapping),
	// nil for an empty file.
	Root *yaml.Node
	// Docs holds the content node of every document in the stream.
	Docs  []*yaml.Node
	lines *pos.Lines
}

// Limits applied by ParseYAML.
const (
	// MaxAliasExpansion bounds how many nodes alias expansion may add
	// beyond 10x the document's own node count (billion-laughs defence).
	MaxAliasExpansion = 100_000
	// MaxDepth bounds nesting; yaml.v3 itself stops at 10,000.
	MaxDepth = 1000
)

// ParseYAML decodes every document in src with limits: the input must be
// UTF-8, nesting is bounded and aliases may not expand beyond
// 10*nodes+MaxAliasExpansion nodes. Errors are *pos.Error. YAML syntax
// errors carry the line yaml.v3 reports (for some structural errors the
// line where the enclosing block starts) and column 1, as yaml.v3 gives no
// column.
func ParseYAML(path string, src []byte) (doc *Document, err error) {
	if !utf8.Valid(src) {
		off := 0
		for off < len(src) {
			r, w := utf8.DecodeRune(src[off:])
			if r == utf8.RuneError && w <= 1 {
				break
			}
			off += w
		}
		tr := pos.NewTracker(src)
		return nil, pos.Errorf(path, tr.Pos(off), "invalid UTF-8 (byte 0x%02x): YAML files must be UTF-8", src[off])
	}
	defer func() {
		// yaml.v3 reports some failures by panicking internally; it
		// recovers most of them itself, this catches the rest.
		if r := recover(); r != nil {
			doc, err = nil, pos.Errorf(path, pos.Pos{Line: 1, Col: 1}, "YAML parser failed: %v", r)
		}
	}()
	doc = &Document{Path: path, Src: src, lines: pos.NewLines(src)}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, yamlError(path, err)
		}
		content := &n
		if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
			content = n.Content[0]
		}
		doc.Docs = append(doc.Docs, content)
	}
	if len(doc.Docs) > 0 {
		doc.Root = doc.Docs[0]
	}
	for _, d := range doc.Docs {
		if err := doc.checkLimits(d); err != nil {
			return nil, err
		}
	}
	return doc, nil
}

func yamlError(path string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if n, convErr := strconv.Atoi(rest[:i]); convErr == nil {
				line = n
				msg = strings.TrimSpace(rest[i+1:])
			}
		}
	}
	return &pos.Error{Path: path, Line: line, Col: 1, Msg: "invalid YAML: " + msg, Err: err}
}

// checkLimits measures the expanded size of the tree (aliases followed,
// memoised per anchor so the check itself stays linear) and its depth.
func (d *Document) checkLimits(root *yaml.Node) error {
	raw := 0
	var count func(n *yaml.Node, depth int) error
	count = func(n *yaml.Node, depth int) error {
		raw++
		if depth > MaxDepth {
			return pos.LimitErrorf(d.Path, d.Pos(n), "YAML nested deeper than %d levels", MaxDepth)
		}
		for _, c := range n.Content {
			if err := count(c, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := count(root, 1); err != nil {
		return err
	}
	limit := 10*raw + MaxAliasExpansion
	memo := map[*yaml.Node]int{}
	var size func(n *yaml.Node) (int, error)
	size = func(n *yaml.Node) (int, error) {
		if n.Kind == yaml.AliasNode {
			if n.Alias == nil {
				return 1, nil
			}
			if v, ok := memo[n.Alias]; ok {
				if v < 0 {
					return 0, pos.LimitErrorf(d.Path, d.Pos(n), "recursive YAML alias *%s", n.Value)
				}
				return v, nil
			}
			memo[n.Alias] = -1
			v, err := size(n.Alias)
			if err != nil {
				return 0, err
			}
			memo[n.Alias] = v
			return v, nil
		}
		total := 1
		for _, c := range n.Content {
			v, err := size(c)
			if err != nil {
				return 0, err
			}
			total += v
			if total > limit {
				return 0, pos.LimitErrorf(d.Path, d.Pos(c), "YAML aliases expand to more than %d nodes (alias bomb?)", limit)
			}
		}
		if n.Anchor != "" {
			// Anchors precede their aliases, so aliases hit this entry
			// and never recurse into the anchored tree again.
			memo[n] = total
		}
		return total, nil
	}
	_, err := size(root)
	return err
}

// Pos returns the position of a node of this document.
func (d *Document) Pos(n *yaml.Node) pos.Pos {
	if n == nil || n.Line == 0 {
		return pos.Pos{}
	}
	return d.lines.At(n.Line, n.Column)
}

// Lines returns the document's line index.
func (d *Document) Lines() *pos.Lines { return d.lines }

// LinePos returns the position of line i (0-based) of a scalar's value.
// For literal (|) and folded (>) block scalars the value starts on the line
// after the indicator; continuation lines of other multi-line scalars
// start at their first non-blank character. The result is exact for
// literal block scalars and a close approximation otherwise.
func (d *Document) LinePos(n *yaml.Node, i int) pos.Pos {
	if n == nil || n.Line == 0 {
		return pos.Pos{}
	}
	block := n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0
	if !block && i == 0 {
		return d.Pos(n)
	}
	line := n.Line + i
	if block {
		line++
	}
	text := d.lines.Text(line)
	col := 1
	for _, c := range text {
		if c != ' ' && c != '\t' {
			break
		}
		col++
	}
	if text == nil {
		return d.Pos(n)
	}
	return d.lines.At(line, col)
}

// describeNode names a node kind for messages.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.ScalarNode:
		// Never echo the value: it may be a secret.
		return "a scalar"
	case yaml.AliasNode:
		return "an alias"
	}
	return "an empty document"
}
