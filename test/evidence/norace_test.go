//go:build !race

package evidence

// sparseSize is the hostile sparse file: 2 GiB, 64 times the parse limit.
const (
	sparseSize  = 2 << 30
	sparseLabel = "2048.0 MiB"
)
