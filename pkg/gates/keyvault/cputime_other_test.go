//go:build !unix

package keyvault

import (
	"testing"
	"time"
)

// cpuTime is not measured on this platform; the benchmark then reports wall time only.
func cpuTime(*testing.B) time.Duration { return 0 }
