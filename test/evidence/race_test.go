//go:build race

package evidence

// The race detector slows the credential scan of the sparse file about fourfold; a smaller file
// (still eight times the 32 MiB parse limit, the same streaming path) keeps `make test` fast.
const (
	sparseSize  = 256 << 20
	sparseLabel = "256.0 MiB"
)
