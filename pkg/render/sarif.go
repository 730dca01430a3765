package render

import (
	"encoding/json"
	"io"
	"sort"

	"github.com/stagegate/stagegate/pkg/finding"
)

// SARIF 2.1.0, with only the fields we fill. We write these few types ourselves rather than link a
// SARIF library into every gate binary: the one we checked (go-sarif) pulls a JSON-schema
// validator and the whole SARIF schema into the binary, which the 25 MiB package budget cannot
// afford. Tests validate our output with that library instead.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string       `json:"id"`
	Name                 string       `json:"name,omitempty"`
	ShortDescription     sarifText    `json:"shortDescription"`
	Help                 *sarifText   `json:"help,omitempty"`
	DefaultConfiguration *sarifConfig `json:"defaultConfiguration,omitempty"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           int                `json:"ruleIndex"`
	Level               string             `json:"level"`
	Message             sarifText          `json:"message"`
	Locations           []sarifLocation    `json:"locations,omitempty"`
	PartialFingerprints map[string]string  `json:"partialFingerprints"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

type sarifLogical struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Justification string `json:"justification,omitempty"`
}

func sarifLevel(s finding.Severity) string {
	switch s {
	case finding.Error:
		return "error"
	case finding.Warning:
		return "warning"
	default:
		return "note"
	}
}

// SARIF writes a SARIF 2.1.0 log. Accepted findings carry an external suppression with the
// baseline's justification; partialFingerprints carry our stable fingerprint.
func SARIF(w io.Writer, r *finding.Report, m Meta) error {
	rules := append([]finding.Rule(nil), r.Rules...)
	known := map[string]bool{}
	for _, ru := range rules {
		known[ru.ID] = true
	}
	for _, f := range r.Findings {
		if !known[f.Rule] {
			known[f.Rule] = true
			rules = append(rules, finding.Rule{ID: f.Rule, Description: f.Rule, Severity: f.Severity})
		}
	}
	sort.Slice(rules, func(i, j int) bool { return rules[i].ID < rules[j].ID })
	index := map[string]int{}
	drv := sarifDriver{Name: m.Tool, Version: m.Version, InformationURI: "https://github.com/stagegate/stagegate", Rules: []sarifRule{}}
	for i, ru := range rules {
		index[ru.ID] = i
		sr := sarifRule{ID: ru.ID, Name: ru.Name, ShortDescription: sarifText{Text: ru.Description}}
		if ru.Help != "" {
			sr.Help = &sarifText{Text: ru.Help, Markdown: ru.Help}
		}
		if ru.Severity != "" {
			sr.DefaultConfiguration = &sarifConfig{Level: sarifLevel(ru.Severity)}
		}
		drv.Rules = append(drv.Rules, sr)
	}
	run := sarifRun{Tool: sarifTool{Driver: drv}, Results: []sarifResult{}}
	for _, f := range r.Findings {
		res := sarifResult{
			RuleID: f.Rule, RuleIndex: index[f.Rule], Level: sarifLevel(f.Severity),
			Message:             sarifText{Text: f.Message},
			PartialFingerprints: map[string]string{"stagegate/v1": f.Fingerprint},
		}
		var loc sarifLocation
		if f.Location.Path != "" {
			loc.PhysicalLocation = &sarifPhysical{ArtifactLocation: sarifArtifact{URI: f.Location.Path}}
			if f.Location.Line > 0 {
				loc.PhysicalLocation.Region = &sarifRegion{StartLine: f.Location.Line, StartColumn: f.Location.Column}
			}
		}
		if f.Location.Logical != "" {
			loc.LogicalLocations = []sarifLogical{{FullyQualifiedName: f.Location.Logical}}
		}
		if loc.PhysicalLocation != nil || loc.LogicalLocations != nil {
			res.Locations = []sarifLocation{loc}
		}
		if !f.Counts() {
			res.Suppressions = []sarifSuppression{{Kind: "external", Justification: f.Accepted.Justification}}
		}
		run.Results = append(run.Results, res)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs:    []sarifRun{run},
	})
}
