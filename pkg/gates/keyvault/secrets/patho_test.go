package secrets

import (
	"strings"
	"testing"
)

// BenchmarkScanPathological measures inputs built to trigger every anchor as often as possible;
// their throughput must stay in the same order as ordinary text (no quadratic behaviour).
func BenchmarkScanPathological(b *testing.B) {
	for name, unit := range map[string]string{
		"begin":    "-----BEGIN RSA PRIVATE KEY-----\n",
		"sig":      "&sv=1&se=2&sig=" + strings.Repeat("Ab1", 12),
		"equals":   "a==b=c;Password=x;",
		"tilde":    "ab18Q~" + strings.Repeat("x", 30) + "~",
		"url":      "postgres://u:p@h x://a:b@",
		"longline": strings.Repeat("A", 200) + "==",
	} {
		src := []byte(strings.Repeat(unit, (1<<20)/len(unit)))
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				Scan(src)
			}
		})
	}
}
