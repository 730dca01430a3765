package secrets

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"unicode/utf8"
)

// Kind is a credential format KV009 recognises.
type Kind string

// Credential kinds.
const (
	StorageAccountKey        Kind = "storage account key"
	SASSignature             Kind = "SAS signature"
	ClientSecret             Kind = "Entra client secret"
	ConnectionStringPassword Kind = "connection string password"
	URLPassword              Kind = "password in a URL"
	PrivateKey               Kind = "private key"
)

// Match is one credential found in text. Start and End delimit the secret itself (not its key),
// in bytes. Redacted is the only form of the value that may be shown or hashed.
type Match struct {
	Kind       Kind
	Start, End int
	Redacted   string
}

// Hash returns a short hash of the redacted value and kind, for fingerprints: it identifies the
// finding across runs without being derived from the secret (a hash of a low-entropy password
// could be brute-forced).
func (m Match) Hash() string { return ValueHash(string(m.Kind) + ":" + m.Redacted) }

// ValueHash hashes an already redacted value for a fingerprint.
func ValueHash(redacted string) string {
	h := sha256.Sum256([]byte(redacted))
	return hex.EncodeToString(h[:8])
}

// Redact returns a safe stand-in for a secret value: its length, plus its first two characters
// when it is at least 16 characters long (so short passwords reveal nothing but their length).
func Redact(v string) string {
	n := utf8.RuneCountInString(v)
	if n >= 16 {
		r1, w1 := utf8.DecodeRuneInString(v)
		r2, _ := utf8.DecodeRuneInString(v[w1:])
		if r1 < utf8.RuneSelf && r2 < utf8.RuneSelf && isPrintable(byte(r1)) && isPrintable(byte(r2)) {
			return fmt.Sprintf("%c%c…(%d chars)", r1, r2, n)
		}
	}
	return fmt.Sprintf("…(%d chars)", n)
}

func isPrintable(c byte) bool { return c > ' ' && c < 0x7f && c != '%' && c != ']' && c != ';' }

// Scan finds credentials in src and returns them in order of position. It never returns two
// overlapping matches. It is precise by construction: each format is anchored on a keyword or an
// exact shape, then checked for placeholders and, for formats without a keyword, randomness.
func Scan(src []byte) []Match {
	s := scanner{src: src}
	s.equals()
	s.clientSecrets()
	s.privateKeys()
	s.urlPasswords()
	return s.sorted()
}

type scanner struct {
	src []byte
	out []Match
}

func (s *scanner) add(k Kind, start, end int, redacted string) {
	s.out = append(s.out, Match{Kind: k, Start: start, End: end, Redacted: redacted})
}

// sorted orders matches and drops any that overlap an earlier one (an AccountKey=... value is
// also an 88-character key; a private key body may contain "==").
func (s *scanner) sorted() []Match {
	out := s.out
	for i := 1; i < len(out); i++ { // insertion sort: matches are few and nearly sorted
		for j := i; j > 0 && (out[j].Start < out[j-1].Start || out[j].Start == out[j-1].Start && out[j].End > out[j-1].End); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	kept := out[:0]
	end := -1
	for _, m := range out {
		if m.Start < end {
			continue
		}
		kept = append(kept, m)
		end = m.End
	}
	return kept
}

const (
	base64Chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	// storageKeyBody is the length of a storage account key before its "==" padding.
	storageKeyBody = 86
)

var (
	isB64       [256]bool // standard base64 alphabet
	isSecretCh  [256]bool // Entra client secret alphabet
	isWordCh    [256]bool // letters only, for keywords before '='
	isValueStop [256]bool // ends a key=value value
)

func init() {
	for i := 0; i < len(base64Chars); i++ {
		isB64[base64Chars[i]] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		isWordCh[c], isWordCh[c-32] = true, true
	}
	for i := 0; i < 256; i++ {
		c := byte(i)
		isSecretCh[c] = isB64[c] && c != '+' && c != '/' || c == '_' || c == '~' || c == '.' || c == '-'
	}
	for _, c := range []byte{';', '"', '\'', ' ', '\t', '\r', '\n', '\\', '`', 0} {
		isValueStop[c] = true
	}
}

// equals walks every '=' once: storage account keys end in "==", and the keyword formats are
// key=value pairs (AccountKey=, SharedAccessKey=, Password=, Pwd=, sig=).
func (s *scanner) equals() {
	src := s.src
	for i := 0; i < len(src); {
		j := bytes.IndexByte(src[i:], '=')
		if j < 0 {
			return
		}
		i += j
		if i+1 < len(src) && src[i+1] == '=' {
			s.storageKey(i)
			i += 2
			continue
		}
		if i > 0 && isWordCh[src[i-1]] {
			s.keyword(i)
		}
		i++
	}
}

// storageKey checks the 86 characters before the "==" at eq.
func (s *scanner) storageKey(eq int) {
	src := s.src
	start := eq - storageKeyBody
	if start < 0 || (start > 0 && (isB64[src[start-1]] || src[start-1] == '-')) {
		return
	}
	if eq+2 < len(src) && (isB64[src[eq+2]] || src[eq+2] == '=') {
		return
	}
	body := src[start:eq]
	for _, c := range body {
		if !isB64[c] {
			return
		}
	}
	// sha512-<base64> is a package integrity hash (package-lock.json), not a key; so is a value
	// under a hash, digest or signature key (NuGet's packages.lock.json "contentHash").
	if start >= 7 && string(src[start-7:start]) == "sha512-" || hashContext(src[max(0, start-48):start]) {
		return
	}
	if !random(body) || isEmulatorKey(src[start:eq+2]) {
		return
	}
	s.add(StorageAccountKey, start, eq+2, Redact(string(src[start:eq+2])))
}

// hashContext reports whether the text right before a 64-byte base64 value names a hash,
// digest or signature.
func hashContext(before []byte) bool {
	if i := bytes.LastIndexByte(before, '\n'); i >= 0 {
		before = before[i+1:]
	}
	for _, w := range [...]string{"hash", "sha512", "sha-512", "integrity", "checksum", "digest", "signature"} {
		if indexFold(string(before), w) >= 0 {
			return true
		}
	}
	return false
}

// keyword handles key=value at eq, where the key ends right before eq.
func (s *scanner) keyword(eq int) {
	src := s.src
	ks := eq
	for ks > 0 && eq-ks < 32 && isWordCh[src[ks-1]] {
		ks--
	}
	if ks > 0 && (isWordCh[src[ks-1]] || src[ks-1] == '-' || src[ks-1] == '_') {
		return // part of a longer identifier, or --password= on a command line
	}
	key := src[ks:eq]
	switch {
	case equalFold(key, "accountkey"):
		s.keyValue(eq, StorageAccountKey, true)
	case equalFold(key, "sharedaccesskey"):
		s.keyValue(eq, ConnectionStringPassword, true)
	case equalFold(key, "password") || equalFold(key, "pwd") || equalFold(key, "passwd"):
		if s.inConnectionString(ks, eq) {
			s.keyValue(eq, ConnectionStringPassword, false)
		}
	case string(key) == "sig":
		s.sasSignature(ks, eq)
	}
}

// valueEnd returns the end of the value starting after eq.
func (s *scanner) valueEnd(eq int) int {
	src := s.src
	e := eq + 1
	for e < len(src) && !isValueStop[src[e]] && e-eq < 1024 {
		e++
	}
	return e
}

func (s *scanner) keyValue(eq int, k Kind, wantBase64 bool) {
	start := eq + 1
	end := s.valueEnd(eq)
	v := s.src[start:end]
	if len(v) < 4 || IsPlaceholder(string(v)) {
		return
	}
	if wantBase64 {
		n := 0
		for _, c := range v {
			if isB64[c] || c == '=' {
				n++
			}
		}
		if n != len(v) || len(v) < 20 || !random(bytes.TrimRight(v, "=")) || isEmulatorKey(v) {
			return
		}
	}
	s.add(k, start, end, Redact(string(v)))
}

// inConnectionString requires the key=value at [ks, eq) to sit in a ';'-separated list: a ';'
// before it on the same line, or right after its value.
func (s *scanner) inConnectionString(ks, eq int) bool {
	src := s.src
	for i := ks - 1; i >= 0 && ks-i <= 512; i-- {
		c := src[i]
		if c == ';' {
			return true
		}
		if c == '\n' || c == '"' {
			break
		}
	}
	end := s.valueEnd(eq)
	return end < len(src) && src[end] == ';'
}

// sasSignature checks sig=<signature> in a query string that also carries sv= and se=.
func (s *scanner) sasSignature(ks, eq int) {
	src := s.src
	if ks == 0 || (src[ks-1] != '?' && src[ks-1] != '&' && src[ks-1] != ';') {
		return
	}
	start := eq + 1
	end := start
	for end < len(src) && end-start < 256 {
		c := src[end]
		if !(isB64[c] || c == '%' || c == '=' || c == '-' || c == '_') {
			break
		}
		end++
	}
	v := src[start:end]
	if len(v) < 30 {
		return
	}
	lo, hi := max(0, ks-1024), min(len(src), end+1024)
	window := src[lo:hi]
	if !hasParam(window, "sv=") || !hasParam(window, "se=") {
		return
	}
	if !random(v) {
		return
	}
	s.add(SASSignature, start, end, Redact(string(v)))
}

// hasParam looks for a query parameter (preceded by ?, & or ;) on the same line.
func hasParam(window []byte, p string) bool {
	for off := 0; ; {
		i := bytes.Index(window[off:], []byte(p))
		if i < 0 {
			return false
		}
		i += off
		if i > 0 && (window[i-1] == '?' || window[i-1] == '&' || window[i-1] == ';') {
			return true
		}
		off = i + 1
	}
}

// clientSecrets finds Entra application secrets: three characters, a digit and "Q~", then 31 to
// 34 characters of [A-Za-z0-9_~.-].
func (s *scanner) clientSecrets() {
	src := s.src
	for i := 0; i < len(src); {
		j := bytes.IndexByte(src[i:], '~')
		if j < 0 {
			return
		}
		i += j
		t := i
		i++
		if t < 5 || src[t-1] != 'Q' || src[t-2] < '0' || src[t-2] > '9' {
			continue
		}
		start := t - 5
		if !isSecretCh[src[start]] || !isSecretCh[src[start+1]] || !isSecretCh[src[start+2]] {
			continue
		}
		if start > 0 && isSecretCh[src[start-1]] {
			continue
		}
		end := t + 1
		for end < len(src) && isSecretCh[src[end]] && end-t <= 35 {
			end++
		}
		n := end - t - 1
		if n < 31 || n > 34 {
			continue
		}
		tail := src[t+1 : end]
		if classes(tail) < 2 || !random(tail) {
			continue
		}
		s.add(ClientSecret, start, end, Redact(string(src[start:end])))
		i = end
	}
}

// privateKeys finds PEM private key blocks with a real body (not "..." or a placeholder). The
// body ends at the next "-----" (the END line, or another BEGIN), so each byte is looked at a
// bounded number of times however many BEGIN lines a file holds.
func (s *scanner) privateKeys() {
	src := s.src
	begin := []byte("-----BEGIN ")
	dashes := []byte("-----")
	for i := 0; i < len(src); {
		j := bytes.Index(src[i:], begin)
		if j < 0 {
			return
		}
		start := i + j
		i = start + len(begin)
		hdrEnd := bytes.Index(src[i:min(len(src), i+64)], dashes)
		if hdrEnd < 0 {
			continue
		}
		label := src[i : i+hdrEnd]
		if !bytes.HasSuffix(label, []byte("PRIVATE KEY")) {
			continue
		}
		bodyStart := i + hdrEnd + len(dashes)
		limit := min(len(src), bodyStart+64*1024)
		bodyEnd := limit
		end := limit
		hasEnd := false
		if k := bytes.Index(src[bodyStart:limit], dashes); k >= 0 {
			bodyEnd = bodyStart + k
			end = bodyEnd
			if bytes.HasPrefix(src[bodyEnd:], []byte("-----END ")) {
				hasEnd = true
				if m := bytes.Index(src[bodyEnd+9:min(len(src), bodyEnd+9+64)], dashes); m >= 0 {
					end = bodyEnd + 9 + m + len(dashes)
				}
			}
		}
		n := pemBody(src[bodyStart:bodyEnd], hasEnd)
		if n < 64 {
			continue
		}
		s.add(PrivateKey, start, end, fmt.Sprintf("-----BEGIN %s----- …(%d base64 chars)", label, n))
		i = end
	}
}

// pemBody counts the base64 characters of a PEM body, or returns -1 when the body is a
// placeholder ("...", "<key>", "${var}") or, with an END line, holds foreign characters.
func pemBody(body []byte, hasEnd bool) int {
	n := 0
	for k := 0; k < len(body); k++ {
		c := body[k]
		switch {
		case isB64[c] || c == '=':
			n++
		case c == '\\' && k+1 < len(body) && (body[k+1] == 'n' || body[k+1] == 'r'):
			k++ // an escaped line break inside a JSON or HCL string
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ':' || c == ',' || c == '-':
		case c == '.' || c == '<' || c == '$' || c == '{':
			return -1
		default:
			if hasEnd {
				return -1
			}
			return n // no END line: the body stops at the first foreign character
		}
	}
	return n
}

// urlPasswords finds scheme://user:password@host.
func (s *scanner) urlPasswords() {
	src := s.src
	sep := []byte("://")
	for i := 0; i < len(src); {
		j := bytes.Index(src[i:], sep)
		if j < 0 {
			return
		}
		at := i + j
		i = at + 3
		if at < 2 || !isWordCh[src[at-1]] && !(src[at-1] >= '0' && src[at-1] <= '9') {
			continue
		}
		// userinfo: up to '@' before any '/', '?', '#', quote or space.
		u := at + 3
		e := u
		atSign := -1
		for e < len(src) && e-u < 256 {
			c := src[e]
			if c == '@' {
				atSign = e
			}
			if c == '/' || c == '?' || c == '#' || c == '"' || c == '\'' || c <= ' ' || c == '\\' || c == '<' || c == '>' {
				break
			}
			e++
		}
		if atSign < 0 {
			continue
		}
		colon := bytes.IndexByte(src[u:atSign], ':')
		if colon < 0 {
			continue
		}
		ps, pe := u+colon+1, atSign
		// The host must follow.
		if atSign+1 >= len(src) || !(isWordCh[src[atSign+1]] || src[atSign+1] >= '0' && src[atSign+1] <= '9') {
			continue
		}
		pw := src[ps:pe]
		// user:user (guest:guest, postgres:postgres) is a local development default.
		if len(pw) < 4 || IsPlaceholder(string(pw)) || bytes.Equal(pw, src[u:u+colon]) {
			continue
		}
		s.add(URLPassword, ps, pe, Redact(string(pw)))
		i = atSign + 1
	}
}

// random reports whether b looks machine-generated: at least three of upper case, lower case and
// digits, and a Shannon entropy of at least 3.5 bits per character.
func random(b []byte) bool {
	if classes(b) < 3 {
		return false
	}
	var freq [256]int
	for _, c := range b {
		freq[c]++
	}
	var h float64
	n := float64(len(b))
	for _, f := range freq {
		if f > 0 {
			p := float64(f) / n
			h -= p * math.Log2(p)
		}
	}
	return h >= 3.5
}

func classes(b []byte) int {
	var up, lo, dg bool
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
			up = true
		case c >= 'a' && c <= 'z':
			lo = true
		case c >= '0' && c <= '9':
			dg = true
		}
	}
	n := 0
	for _, ok := range [...]bool{up, lo, dg} {
		if ok {
			n++
		}
	}
	return n
}

// emulatorKeyHash is the SHA-256 of the storage emulator's published, well-known account key
// (Azurite, "UseDevelopmentStorage=true"): a public constant, not a credential. Only its hash is
// kept so this source does not itself contain a key-shaped literal.
const emulatorKeyHash = "0011cc25eb4320717494d2703e8cba85743e71b500283c21c8b88147992f9059"

func isEmulatorKey(v []byte) bool {
	if len(v) != 88 {
		return false
	}
	h := sha256.Sum256(v)
	return hex.EncodeToString(h[:]) == emulatorKeyHash
}

func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// HasCredential reports whether a connection-string-like value carries a credential: any format
// Scan finds, or a Password=, Pwd=, AccountKey= or SharedAccessKey= part with a literal value.
// Connection strings for managed identities or integrated security carry none.
func HasCredential(v string) bool {
	if len(Scan([]byte(v))) > 0 {
		return true
	}
	for _, key := range [...]string{"password=", "pwd=", "passwd=", "accountkey=", "sharedaccesskey=", "sharedaccesssignature="} {
		for off := 0; ; {
			i := indexFold(v[off:], key)
			if i < 0 {
				break
			}
			i += off
			off = i + len(key)
			if i > 0 && isWordCh[v[i-1]] {
				continue
			}
			val := v[off:]
			if j := indexAnyByte(val, ";\"'"); j >= 0 {
				val = val[:j]
			}
			if !IsPlaceholder(val) {
				return true
			}
		}
	}
	return false
}

func indexFold(s, lower string) int {
	n := len(lower)
	for i := 0; i+n <= len(s); i++ {
		if equalFold([]byte(s[i:i+n]), lower) {
			return i
		}
	}
	return -1
}

func indexAnyByte(s, chars string) int {
	for i := 0; i < len(s); i++ {
		for j := 0; j < len(chars); j++ {
			if s[i] == chars[j] {
				return i
			}
		}
	}
	return -1
}
