// Package kvtest builds test material for the Key Vault reference gate: canary credentials that
// must never appear in any output, a corpus of realistic well-kept templates that must produce no
// findings, and generated trees of mixed templates for throughput benchmarks (make bench). It is
// used by tests and benchmarks only; nothing here is a real credential.
package kvtest

import (
	"encoding/base64"
	"encoding/pem"
	"math/rand/v2"
	"net/url"
	"strings"
)

// Canaries are fake credentials in every format KV009 recognises, random per seed. Each is
// well-formed so the scanner must find it, and none is a real credential.
type Canaries struct {
	StorageKey     string // 88 base64 characters ending "=="
	ClientSecret   string // xxx8Q~ + 34 characters
	SASSignature   string // the sig= value, URL-encoded
	SASURL         string // a blob URL with sv, se and sig
	DBPassword     string // the Password= value of ConnectionString
	ConnString     string // SQL connection string with a password
	URLPassword    string // the password in URLWithPass
	URLWithPass    string // postgres://user:password@host
	PrivateKeyBody string // the base64 body of PrivateKeyPEM
	PrivateKeyPEM  string // -----BEGIN RSA PRIVATE KEY----- block
	PlainPassword  string // a literal password with no format (for KV001/KV007/KV010/KV011)
}

const (
	alnum       = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	secretChars = alnum + "_~.-"
)

// NewCanaries returns canaries derived from seed.
func NewCanaries(seed uint64) Canaries {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var c Canaries
	c.StorageKey = base64.StdEncoding.EncodeToString(randBytes(r, 64))
	for !mixed(c.StorageKey) {
		c.StorageKey = base64.StdEncoding.EncodeToString(randBytes(r, 64))
	}
	c.ClientSecret = randString(r, alnum, 3) + "8Q~" + randString(r, secretChars, 34)
	for !mixed(c.ClientSecret[6:]) {
		c.ClientSecret = randString(r, alnum, 3) + "8Q~" + randString(r, secretChars, 34)
	}
	c.SASSignature = url.QueryEscape(base64.StdEncoding.EncodeToString(randBytes(r, 32)))
	c.SASURL = "https://stcanary001.blob.core.windows.net/deploy?sv=2022-11-02&ss=b&srt=co&sp=rl&se=2027-06-30T00:00:00Z&spr=https&sig=" + c.SASSignature
	c.DBPassword = "Q" + mixedString(r, 18) + "!7"
	c.ConnString = "Server=tcp:sql-canary.database.windows.net,1433;Initial Catalog=app;User ID=appuser;Password=" + c.DBPassword + ";Encrypt=True;"
	c.URLPassword = "W" + mixedString(r, 22)
	c.URLWithPass = "postgres://appuser:" + c.URLPassword + "@psql-canary.postgres.database.azure.com:5432/app"
	c.PrivateKeyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: randBytes(r, 900)}))
	body := strings.TrimSpace(c.PrivateKeyPEM)
	body = strings.TrimPrefix(body, "-----BEGIN RSA PRIVATE KEY-----")
	body = strings.TrimSuffix(body, "-----END RSA PRIVATE KEY-----")
	c.PrivateKeyBody = strings.ReplaceAll(strings.TrimSpace(body), "\n", "")
	c.PlainPassword = "Zq" + mixedString(r, 14) + "#4"
	return c
}

// Secrets returns every secret value, for leak assertions.
func (c Canaries) Secrets() []string {
	return []string{c.StorageKey, c.ClientSecret, c.SASSignature, c.DBPassword, c.URLPassword, c.PrivateKeyBody, c.PlainPassword}
}

// Leaks returns the canaries that appear in out, in clear or base64-encoded, or as any
// 10-character window (a redaction shows at most 2 characters).
func (c Canaries) Leaks(out string) []string {
	var leaked []string
	for _, s := range c.Secrets() {
		if leaks(out, s) {
			leaked = append(leaked, s[:4]+"…")
		}
	}
	return leaked
}

func leaks(out, secret string) bool {
	const window = 10
	if strings.Contains(out, secret) || strings.Contains(out, base64.StdEncoding.EncodeToString([]byte(secret))) {
		return true
	}
	if len(secret) <= window {
		return false
	}
	for i := 0; i+window <= len(secret); i++ {
		if strings.Contains(out, secret[i:i+window]) {
			return true
		}
	}
	return false
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func randString(r *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

func mixedString(r *rand.Rand, n int) string {
	for {
		if s := randString(r, alnum, n); mixed(s) {
			return s
		}
	}
}

// mixed reports whether s has upper case, lower case and digits and no placeholder-like run.
func mixed(s string) bool {
	var up, lo, dg bool
	for i := 0; i < len(s); i++ {
		c := s[i]
		up = up || c >= 'A' && c <= 'Z'
		lo = lo || c >= 'a' && c <= 'z'
		dg = dg || c >= '0' && c <= '9'
	}
	ls := strings.ToLower(s)
	for _, w := range []string{"your", "xxxx", "todo", "example", "sample", "dummy", "replace", "redacted", "fixme", "changeme"} {
		if strings.Contains(ls, w) {
			return false
		}
	}
	return up && lo && dg
}
