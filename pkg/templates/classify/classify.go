// Package classify decides what a scanned file is (ARM template, ARM
// parameters, Bicep, Bicep parameters, Terraform, Terraform variables,
// Azure Pipelines YAML, other JSON/YAML, other text, binary) from its
// content, and can parse it in the same pass so a gate reads each file once.
//
// JSON and YAML are recognised by content, never by name; the extension only
// chooses between the text grammars that cannot be told apart cheaply
// (.bicep, .bicepparam, .tf, .tfvars).
package classify

import (
	"bytes"
	"path/filepath"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/stagegate/stagegate/pkg/templates/arm"
	"github.com/stagegate/stagegate/pkg/templates/bicep"
	"github.com/stagegate/stagegate/pkg/templates/pipeline"
	"github.com/stagegate/stagegate/pkg/templates/pos"
	"github.com/stagegate/stagegate/pkg/templates/terraform"
)

// Kind is the classification of a file.
type Kind uint8

// File kinds.
const (
	Other Kind = iota // text that is none of the below
	Binary
	ARMTemplate
	ARMParameters
	Bicep
	BicepParam
	Terraform
	TerraformVars
	Pipeline
	OtherJSON
	OtherYAML
)

func (k Kind) String() string {
	switch k {
	case Other:
		return "other"
	case Binary:
		return "binary"
	case ARMTemplate:
		return "arm-template"
	case ARMParameters:
		return "arm-parameters"
	case Bicep:
		return "bicep"
	case BicepParam:
		return "bicepparam"
	case Terraform:
		return "terraform"
	case TerraformVars:
		return "terraform-vars"
	case Pipeline:
		return "pipeline"
	case OtherJSON:
		return "json"
	case OtherYAML:
		return "yaml"
	}
	return "unknown"
}

// IsTemplate reports whether files of this kind are templates, parameter
// files or pipelines: kinds whose parse failure must fail the gate (KV000)
// rather than be skipped.
func (k Kind) IsTemplate() bool {
	switch k {
	case ARMTemplate, ARMParameters, Bicep, BicepParam, Terraform, TerraformVars, Pipeline:
		return true
	}
	return false
}

// Encoding is the text encoding a file was read in.
type Encoding uint8

// Encodings.
const (
	UTF8 Encoding = iota
	UTF16LE
	UTF16BE
)

func (e Encoding) String() string {
	switch e {
	case UTF16LE:
		return "utf-16le"
	case UTF16BE:
		return "utf-16be"
	}
	return "utf-8"
}

// Result is the outcome of Analyze. Exactly the fields that match Kind are
// set; on a parse error Err is set and the parsed fields are nil.
type Result struct {
	Kind Kind
	// Text is the content as UTF-8: content itself, or the transcoding of a
	// UTF-16 file. All positions in parsed models refer to Text.
	Text     []byte
	Encoding Encoding
	// Err is the parse error (a *pos.Error) of a file of this kind. For
	// kinds with IsTemplate it is a KV000 finding; for OtherJSON it only
	// means the JSON is malformed.
	Err error

	JSON       *arm.Node           // ARMTemplate, ARMParameters, OtherJSON
	Template   *arm.Template       // ARMTemplate
	Parameters *arm.ParametersFile // ARMParameters
	Bicep      *bicep.File         // Bicep
	BicepParam *bicep.ParamFile    // BicepParam
	Terraform  *terraform.File     // Terraform, TerraformVars
	YAML       *pipeline.Document  // Pipeline
	Pipeline   *pipeline.Pipeline  // Pipeline
}

// Classify returns the kind of a file. It parses JSON and candidate
// pipeline YAML (the shape decides their kind) but not Bicep or Terraform.
func Classify(path string, content []byte) Kind {
	return analyze(path, content, false).Kind
}

// Analyze classifies a file and parses it according to its kind. Other YAML
// files are not parsed (a credential scan reads Text).
func Analyze(path string, content []byte) Result {
	return analyze(path, content, true)
}

// sniffLen is how much of a file the binary check looks at.
const sniffLen = 8 << 10

func analyze(path string, content []byte, full bool) Result {
	r := Result{Text: content}
	r.Text, r.Encoding = decode(content)
	if isBinary(r.Text) {
		r.Kind = Binary
		return r
	}
	text := r.Text
	ext := extension(path)
	first := firstSignificant(text)
	if first == '{' || first == '[' || ((ext == ".json" || ext == ".jsonc") && first != 0) {
		if r.analyzeJSON(path, ext) {
			return r
		}
	}
	switch ext {
	case ".bicep":
		r.Kind = Bicep
		if full {
			r.Bicep, r.Err = bicep.Parse(path, text)
		}
		return r
	case ".bicepparam":
		r.Kind = BicepParam
		if full {
			r.BicepParam, r.Err = bicep.ParseParams(path, text)
		}
		return r
	case ".tf":
		r.Kind = Terraform
		if full {
			r.Terraform, r.Err = terraform.Parse(path, text)
		}
		return r
	case ".tfvars":
		r.Kind = TerraformVars
		if full {
			r.Terraform, r.Err = terraform.Parse(path, text)
		}
		return r
	}
	r.analyzeYAML(path, ext)
	return r
}

// analyzeJSON parses JSON content. It returns false when the content should
// rather be tried as YAML (malformed JSON in a .yml file).
func (r *Result) analyzeJSON(path, ext string) bool {
	root, err := arm.Parse(path, r.Text)
	if err != nil {
		lower := bytes.ToLower(r.Text[:min(len(r.Text), 4096)])
		switch {
		case bytes.Contains(lower, []byte("deploymenttemplate.json")):
			r.Kind = ARMTemplate
		case bytes.Contains(lower, []byte("deploymentparameters.json")):
			r.Kind = ARMParameters
		case ext == ".yml" || ext == ".yaml":
			return false
		default:
			r.Kind = OtherJSON
		}
		r.Err = err
		return true
	}
	r.JSON = root
	switch arm.Classify(root) {
	case arm.DocTemplate:
		r.Kind = ARMTemplate
		r.Template = arm.NewTemplate(root)
	case arm.DocParameters:
		r.Kind = ARMParameters
		r.Parameters = arm.NewParametersFile(root)
	default:
		r.Kind = OtherJSON
	}
	return true
}

func (r *Result) analyzeYAML(path, ext string) {
	keys, yamlish := topLevelKeys(r.Text)
	if pipelineCandidate(keys) {
		doc, err := pipeline.ParseYAML(path, r.Text)
		if err != nil {
			// The top-level keys say pipeline: a broken pipeline is a
			// finding, not something to skip.
			r.Kind, r.Err = Pipeline, err
			return
		}
		if pipeline.IsPipeline(doc) {
			r.Kind, r.YAML = Pipeline, doc
			r.Pipeline, r.Err = pipeline.Build(doc)
			return
		}
		r.Kind = OtherYAML
		return
	}
	switch {
	case ext == ".yml" || ext == ".yaml" || yamlish:
		r.Kind = OtherYAML
	default:
		r.Kind = Other
	}
}

// pipelineCandidate mirrors pipeline.IsPipeline on the cheap key scan so
// ordinary YAML is never fully parsed.
func pipelineCandidate(keys map[string]bool) bool {
	if keys["on"] {
		return false
	}
	if keys["steps"] || keys["jobs"] || keys["stages"] || keys["extends"] {
		return true
	}
	if keys["variables"] {
		for k := range keys {
			if k != "variables" && k != "parameters" {
				return false
			}
		}
		return true
	}
	return false
}

// topLevelKeys collects "key:" entries that start at column 1 of the first
// YAML document, and reports whether the text looks like YAML at all.
func topLevelKeys(text []byte) (map[string]bool, bool) {
	keys := map[string]bool{}
	yamlish := false
	rest := text[pos.BOMLen(text):]
	for lineNo := 0; len(rest) > 0; lineNo++ {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 || line[0] == ' ' || line[0] == '\t' || line[0] == '#' {
			continue
		}
		if bytes.HasPrefix(line, []byte("---")) {
			if len(keys) > 0 {
				break // only the first document decides
			}
			yamlish = true
			continue
		}
		if line[0] == '-' && (len(line) == 1 || line[1] == ' ') {
			yamlish = true
			continue
		}
		if line[0] == '%' || bytes.HasPrefix(line, []byte("...")) {
			continue
		}
		key, ok := yamlKey(line)
		if !ok {
			continue
		}
		yamlish = true
		keys[key] = true
	}
	return keys, yamlish
}

// yamlKey extracts the key of a "key: value" / "key:" line.
func yamlKey(line []byte) (string, bool) {
	if line[0] == '"' || line[0] == '\'' {
		end := bytes.IndexByte(line[1:], line[0])
		if end < 0 {
			return "", false
		}
		after := line[end+2:]
		if len(after) == 0 || after[0] != ':' || (len(after) > 1 && after[1] != ' ' && after[1] != '\t') {
			return "", false
		}
		return string(line[1 : end+1]), true
	}
	for i := 0; i < len(line); i++ {
		if line[i] == ':' && (i+1 == len(line) || line[i+1] == ' ' || line[i+1] == '\t') {
			if i == 0 {
				return "", false
			}
			return string(bytes.TrimRight(line[:i], " \t")), true
		}
		if line[i] == '#' && i > 0 && line[i-1] == ' ' {
			return "", false
		}
	}
	return "", false
}

func extension(path string) string {
	return strings.ToLower(filepath.Ext(path))
}

// firstSignificant returns the first byte that is not whitespace, a BOM or
// part of a // or /* */ comment, or 0.
func firstSignificant(text []byte) byte {
	i := pos.BOMLen(text)
	for i < len(text) {
		switch c := text[i]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '/' && i+1 < len(text) && text[i+1] == '/':
			j := bytes.IndexByte(text[i:], '\n')
			if j < 0 {
				return 0
			}
			i += j + 1
		case c == '/' && i+1 < len(text) && text[i+1] == '*':
			j := bytes.Index(text[i+2:], []byte("*/"))
			if j < 0 {
				return 0
			}
			i += 2 + j + 2
		default:
			return c
		}
	}
	return 0
}

// decode transcodes UTF-16 (with a byte order mark, or ASCII-heavy
// without one) to UTF-8; anything else is returned as is.
func decode(b []byte) ([]byte, Encoding) {
	switch {
	case len(b) >= 2 && b[0] == 0xff && b[1] == 0xfe:
		return utf16ToUTF8(b[2:], false), UTF16LE
	case len(b) >= 2 && b[0] == 0xfe && b[1] == 0xff:
		return utf16ToUTF8(b[2:], true), UTF16BE
	}
	if le, ok := utf16Guess(b); ok {
		if le {
			return utf16ToUTF8(b, false), UTF16LE
		}
		return utf16ToUTF8(b, true), UTF16BE
	}
	return b, UTF8
}

// utf16Guess recognises BOM-less UTF-16 text by the zero high bytes of its
// ASCII characters.
func utf16Guess(b []byte) (littleEndian bool, ok bool) {
	n := min(len(b), 512) &^ 1
	if n < 8 {
		return false, false
	}
	var zeroEven, zeroOdd int
	for i := 0; i < n; i += 2 {
		if b[i] == 0 {
			zeroEven++
		}
		if b[i+1] == 0 {
			zeroOdd++
		}
	}
	half := n / 2
	switch {
	case zeroOdd*10 >= half*9 && zeroEven == 0:
		return true, true
	case zeroEven*10 >= half*9 && zeroOdd == 0:
		return false, true
	}
	return false, false
}

func utf16ToUTF8(b []byte, bigEndian bool) []byte {
	units := make([]uint16, len(b)/2)
	for i := range units {
		if bigEndian {
			units[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		} else {
			units[i] = uint16(b[2*i+1])<<8 | uint16(b[2*i])
		}
	}
	runes := utf16.Decode(units)
	out := make([]byte, 0, len(runes))
	for _, r := range runes {
		out = utf8.AppendRune(out, r)
	}
	return out
}

// isBinary looks at the first 8 KiB: a NUL byte, or mostly invalid UTF-8
// or control characters, means binary. Occasional invalid bytes (Latin-1
// text) stay text so it is still scanned.
func isBinary(b []byte) bool {
	head := b[:min(len(b), sniffLen)]
	if bytes.IndexByte(head, 0) >= 0 {
		return true
	}
	if len(head) == 0 {
		return false
	}
	invalid, control := 0, 0
	for i := 0; i < len(head); {
		c := head[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v' && c != 0x1b {
				control++
			}
			i++
			continue
		}
		r, w := utf8.DecodeRune(head[i:])
		if r == utf8.RuneError && w == 1 {
			// A multi-byte sequence cut by the 8 KiB window is not an error.
			if len(head) < len(b) && i+utf8.UTFMax > len(head) {
				break
			}
			invalid++
		}
		i += w
	}
	return invalid*100 > len(head)*30 || control*100 > len(head)*10
}
