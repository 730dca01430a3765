package azdosim

import _ "embed"

//go:embed testdata/demo.json
var demoJSON []byte

// Demo returns the built-in demo scenario (testdata/demo.json): the small
// organization `stagegate demo` runs the gates against. Each call returns a
// fresh copy.
func Demo() (*Scenario, error) {
	return ParseScenario(demoJSON)
}
