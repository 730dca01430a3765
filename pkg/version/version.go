// Package version holds the product version stamped into every binary at link time.
package version

// version is set by the linker: -X github.com/stagegate/stagegate/pkg/version.version=1.2.3.
// It is a string variable only because the linker can stamp nothing else; nothing writes it at run time.
var version = "0.0.0-dev"

// String returns the stamped version.
func String() string { return version }
