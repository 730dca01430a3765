// Package examples embeds the demo's inputs, so `stagegate demo` runs from the binary alone:
// the Azure DevOps simulator scenarios (azdo/) and the sample templates (keyvault/).
package examples

import "embed"

// FS holds azdo/*.json and the keyvault/ template tree.
//
//go:embed azdo/*.json all:keyvault
var FS embed.FS
