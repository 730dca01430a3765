package verify

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stagegate/stagegate/pkg/keyvault"
	"github.com/stagegate/stagegate/pkg/keyvault/verify/verifytest"
)

// BenchmarkVerify500 verifies 500 references against the fake Key Vault over loopback TLS
// with a service principal: a fresh Verifier per iteration (so each vault's challenge round
// trip is paid every time; the credential's token cache is warm after the first). It reports
// Key Vault requests per run and the time per run. Every secret has an expired old version and
// a healthy current one, so each lookup really assesses versions.
func BenchmarkVerify500(b *testing.B) {
	cases := []struct {
		name           string
		vaults, unique int // distinct secrets per vault
		dup            int // references per secret
		concurrency    int
		latency        time.Duration
	}{
		{"1vault/500secrets/c8", 1, 500, 1, 8, 0},
		{"1vault/500secrets/c1", 1, 500, 1, 1, 0},
		{"5vaults/250secrets-2refs/c8", 5, 50, 2, 8, 0},
		// With a realistic round trip the concurrency bound is what keeps a run short.
		{"1vault/500secrets/5ms-rtt/c8", 1, 500, 1, 8, 5 * time.Millisecond},
		{"1vault/500secrets/5ms-rtt/c1", 1, 500, 1, 1, 5 * time.Millisecond},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			fx := newFixture(b, verifytest.KindSecret, "AzureCloud")
			var refs []keyvault.Reference
			for vi := 0; vi < c.vaults; vi++ {
				name := fmt.Sprintf("kv-bench-%d", vi)
				secrets := map[string][]verifytest.Version{}
				for si := 0; si < c.unique; si++ {
					s := fmt.Sprintf("secret-%03d", si)
					secrets[s] = []verifytest.Version{
						{Enabled: true, Created: now.Add(-10 * day), Expires: now.Add(-day)},
						{Enabled: true, Created: now.Add(-day), Expires: now.Add(90 * day)},
					}
					for d := 0; d < c.dup; d++ {
						refs = append(refs, ref(keyvault.TerraformData, keyvault.Vault{Name: name}, s, "", fmt.Sprintf("env%d/main.tf", d), si+1))
					}
				}
				fx.f.AddVault(name+".vault.azure.net", &verifytest.Vault{Secrets: secrets, Latency: c.latency})
			}
			if len(refs) != 500 {
				b.Fatalf("%d references", len(refs))
			}
			var requests int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				v := fx.verifier(b, func(o *Options) { o.Concurrency = c.concurrency })
				fs, err := v.Verify(context.Background(), refs)
				if err != nil || len(fs) != 0 {
					b.Fatalf("verify: %v, %d findings", err, len(fs))
				}
				requests += v.Stats().VaultRequests
			}
			b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
			b.ReportMetric(float64(len(refs)), "refs/op")
		})
	}
}
