package secrets

import "strings"

// IsPlaceholder reports whether a value stands for a secret instead of being one: empty values,
// pipeline and template substitutions ($(var), $[ expr ], ${{ expr }}, ${var.x}, #{token}#,
// __token__, %VAR%, {{ x }}, $VAR, $env:VAR), ARM expressions ([parameters('x')]), angle-bracket
// and generator placeholders (<your-password>, GEN-PASSWORD), masks (*****, xxxxx, ...), and
// values that say so (changeme, placeholder, your-..., redacted).
func IsPlaceholder(v string) bool {
	v = strings.TrimSpace(v)
	if v == "" {
		return true
	}
	if IsSubstitution(v) {
		return true
	}
	if strings.Contains(v, "GEN-") || strings.Contains(v, "...") || strings.Contains(v, "…") {
		return true
	}
	if lt := strings.IndexByte(v, '<'); lt >= 0 && strings.IndexByte(v[lt:], '>') > 1 {
		return true
	}
	if sameChar(v) || obviousPlaceholders[strings.ToLower(v)] {
		return true
	}
	for _, w := range placeholderWords {
		if containsFold(v, w) {
			return true
		}
	}
	return false
}

// obviousPlaceholders are whole values that only ever stand for a secret in samples and local
// development defaults.
var obviousPlaceholders = map[string]bool{
	"password": true, "passw0rd": true, "pass": true, "passwd": true, "pwd": true, "secret": true,
	"changeit": true, "admin": true, "guest": true, "root": true, "test": true, "none": true,
	"null": true, "undefined": true, "tbd": true, "n/a": true,
}

// placeholderWords, found anywhere in a value (case-insensitively), mark it as a stand-in.
var placeholderWords = [...]string{
	"placeholder", "changeme", "change_me", "change-me", "replace", "redacted", "your",
	"example", "sample", "dummy", "todo", "fixme", "notasecret", "not-a-secret", "xxxx", "****",
}

// IsSubstitution reports whether v is (or embeds) a value filled in later: a templating
// marker (see IsTemplated) or a Key Vault reference.
func IsSubstitution(v string) bool {
	return IsTemplated(v) || IsKeyVaultReference(v)
}

// IsTemplated reports whether v is (or embeds) a value a tool fills in: a pipeline macro,
// runtime or template expression, a Terraform or Bicep interpolation, an ARM expression, a
// token-replacement marker, or a shell or environment variable.
func IsTemplated(v string) bool {
	v = strings.TrimSpace(v)
	if v == "" {
		return false
	}
	if len(v) >= 2 && v[0] == '[' && v[1] != '[' && v[len(v)-1] == ']' {
		return true // ARM expression
	}
	for _, m := range [...]string{"$(", "$[", "${", "#{", "{{", "$env:", "$Env:", "$ENV:"} {
		if strings.Contains(v, m) {
			return true
		}
	}
	if v[0] == '$' && len(v) > 1 && isIdentStart(v[1]) {
		return true // $VAR, $dbPassword
	}
	if len(v) > 4 && strings.HasPrefix(v, "__") && strings.HasSuffix(v, "__") {
		return true
	}
	if len(v) > 2 && v[0] == '%' && v[len(v)-1] == '%' {
		return true
	}
	if len(v) > 2 && v[0] == '{' && v[len(v)-1] == '}' && !strings.ContainsAny(v, "\":") {
		return true // {your_password}, {password}: not a JSON object
	}
	return false
}

// IsLiteral reports whether a value given for something secret is a literal secret: not a
// placeholder, or a connection string whose credential part is a literal even though the rest
// of it looks like a placeholder (a host named *.example.net).
func IsLiteral(v string) bool {
	return !IsPlaceholder(v) || strings.IndexByte(v, '=') >= 0 && !IsSubstitution(v) && HasCredential(v)
}

func isIdentStart(c byte) bool {
	return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

func sameChar(v string) bool {
	for i := 1; i < len(v); i++ {
		if v[i] != v[0] {
			return false
		}
	}
	return true
}

// IsKeyVaultReference reports whether v is an App Service Key Vault reference
// (@Microsoft.KeyVault(...)) or a Key Vault secret URI: the secret itself lives in Key Vault.
func IsKeyVaultReference(v string) bool {
	v = strings.TrimSpace(v)
	const app = "@microsoft.keyvault("
	if len(v) > len(app) && strings.EqualFold(v[:len(app)], app) {
		return true
	}
	const https = "https://"
	if len(v) > len(https) && strings.EqualFold(v[:len(https)], https) && containsFold(v, ".vault.") && containsFold(v, "/secrets/") && !strings.ContainsAny(v, " \t\n;") {
		return true
	}
	return false
}
