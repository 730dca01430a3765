package rules

import "github.com/stagegate/stagegate/pkg/keyvault"

// ParamDecl is a parameter a template declares.
type ParamDecl struct {
	Name   string
	Secure bool
	// Type is string, object, int, bool, array, or "" when user-defined or unknown.
	Type string
}

// ValueKind says whether a parameter value is a literal that could be a secret.
type ValueKind uint8

// Value kinds.
const (
	// NotLiteral is a Key Vault reference, an expression, a placeholder or an empty value.
	NotLiteral ValueKind = iota
	// StringLiteral is a non-empty string that is not a placeholder.
	StringLiteral
	// ObjectLiteral is a non-empty object or array.
	ObjectLiteral
	// ScalarLiteral is a number or boolean: never a secret.
	ScalarLiteral
)

// ParamValue is a value given to a template parameter (parameters file, .bicepparam, module
// params, pipeline overrides). Only its kind and position are kept, never the value.
type ParamValue struct {
	Name         string
	Kind         ValueKind
	Line, Column int
	Logical      string
	// Redacted is the safe stand-in of a string literal, for messages.
	Redacted string
	// NoCredential is true for a connection-string-named value with no credential in it.
	NoCredential bool
	start, end   int
}

// Judgeable reports whether the value is a literal a template parameter could be judged for:
// a string or an object. Summaries keep only these (FileResult.detach).
func (v ParamValue) Judgeable() bool { return v.Kind == StringLiteral || v.Kind == ObjectLiteral }

// ModuleCall is a Bicep module declaration with a local path.
type ModuleCall struct {
	Symbol       string
	Path         string // as written, relative to the declaring file
	Line, Column int
	Values       []ParamValue
}

// Deployment is a template deployment a pipeline runs: an ARM template deployment task or an
// Azure CLI "az deployment ... create" command.
type Deployment struct {
	Task         string // e.g. AzureResourceManagerTemplateDeployment@3, AzureCLI@2
	Line, Column int
	Logical      string
	// Template and Parameters are paths as written (macros not yet expanded).
	Template     string
	Parameters   []string
	Overrides    []ParamValue
	TemplateLine int
}

// Summary is what phase 2 needs to know about a file; it is small and holds no parse tree.
type Summary struct {
	// Params are the parameters a template declares (ARM template, Bicep).
	Params []ParamDecl
	// Values are the parameter values a parameters file or .bicepparam gives.
	Values []ParamValue
	// Using is the template a .bicepparam names (HasUsing false when absent, UsingNone for
	// "using none").
	Using               string
	HasUsing, UsingNone bool
	UsingLine, UsingCol int
	Modules             []ModuleCall
	Deployments         []Deployment
}

// Param returns the declaration named name (case-insensitively, as ARM compares names).
func (s *Summary) Param(name string) (ParamDecl, bool) {
	for i := len(s.Params) - 1; i >= 0; i-- {
		if equalFold(s.Params[i].Name, name) {
			return s.Params[i], true
		}
	}
	return ParamDecl{}, false
}

// FileResult is everything phase 1 learns from one file.
type FileResult struct {
	Path   string
	Format Format
	Size   int64
	// Binary is set for binary files, which are not scanned.
	Binary bool
	Issues []Issue
	Refs   []keyvault.Reference
	// Summary is nil for files no cross-file rule reads.
	Summary *Summary
}

// Empty reports whether the file gave nothing to report or pair: no issue, no reference, no
// summary.
func (r *FileResult) Empty() bool {
	return len(r.Issues) == 0 && len(r.Refs) == 0 && r.Summary == nil
}

func (r *FileResult) add(is Issue) {
	if is.Severity == "" {
		is.Severity = Severity(is.Rule)
	}
	r.Issues = append(r.Issues, is)
}

func (r *FileResult) summary() *Summary {
	if r.Summary == nil {
		r.Summary = &Summary{}
	}
	return r.Summary
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
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
