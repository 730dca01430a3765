// Package secrets decides what looks like a secret: parameter and variable names that say they
// hold one (KV003's list, shared by KV010 and KV011), values that are placeholders rather than
// literals, and credential formats in raw text (KV009). It also redacts: nothing that leaves this
// package in a message or fingerprint contains more than a two-character prefix of a secret.
package secrets

import "strings"

// secretWords are the words that make a name say "secret".
var secretWords = map[string]bool{
	"password": true, "passwords": true, "passwd": true, "pwd": true, "passphrase": true,
	"secret": true, "secrets": true, "token": true, "tokens": true,
	"key": true, "keys": true, "credential": true, "credentials": true, "creds": true,
	"connstr": true, "connectionstring": true, "connstring": true, "sastoken": true,
	"apikey": true, "accesskey": true, "accountkey": true, "sharedkey": true, "masterkey": true,
	"secretkey": true, "privatekey": true, "subscriptionkey": true, "primarykey": true,
	"secondarykey": true, "hostkey": true, "functionkey": true, "authkey": true, "storagekey": true,
	"clientsecret": true, "accesstoken": true, "adminpassword": true, "sshpassword": true,
}

// qualifiers are words that, after a secret word, say the name is about the secret rather than
// the secret itself: keyVaultName, secretName, passwordLength, tokenLifetime, keySource.
var qualifiers = map[string]bool{
	"name": true, "names": true, "id": true, "ids": true, "uri": true, "uris": true, "url": true,
	"urls": true, "version": true, "versions": true, "type": true, "types": true, "length": true,
	"size": true, "expiry": true, "expiration": true, "expires": true, "expire": true,
	"lifetime": true, "policy": true, "policies": true, "permission": true, "permissions": true,
	"vault": true, "vaults": true, "kv": true, "ref": true, "reference": true, "references": true,
	"setting": true, "settings": true, "source": true, "format": true, "header": true,
	"endpoint": true, "audience": true, "issuer": true, "thumbprint": true, "rotation": true,
	"enabled": true, "required": true, "auth": true, "authentication": true, "hint": true,
	"kind": true, "store": true, "label": true, "path": true, "file": true, "location": true,
	"mode": true, "count": true, "age": true, "reset": true, "complexity": true, "validity": true,
	"duration": true, "days": true, "period": true, "interval": true, "ttl": true, "strategy": true,
	"identifier": true, "identity": true, "algorithm": true, "usage": true, "ops": true,
	"opts": true, "option": true, "options": true, "parameter": true, "parameters": true,
	"export": true, "exports": true, "configuration": true, "config": true, "properties": true,
	"property": true, "profile": true, "field": true, "variable": true, "var": true,
	"provider": true, "providers": true, "prefix": true, "suffix": true, "resource": true,
	"group": true, "scope": true, "role": true, "object": true, "map": true,
	"list": true, "exists": true,
	"created": true, "updated": true, "date": true, "time": true, "timestamp": true,
	"state": true, "status": true, "message": true, "description": true, "pattern": true,
	"regex": true, "rule": true, "rules": true, "request": true, "lookup": true, "cache": true,
	"permitted": true, "allowed": true, "disabled": true, "validation": true, "tenant": true,
	"encryption": true, "managed": true, "rollover": true, "attributes": true, "tags": true,
	"output": true, "outputs": true, "mount": true, "directory": true,
	"storage": true,
}

// keyExemptBefore are words that, before "key", make it something other than a secret.
var keyExemptBefore = map[string]bool{
	"public": true, "partition": true, "row": true, "sort": true, "foreign": true, "unique": true,
	"ssh": true, "managed": true, "customer": true, "cmk": true, "idempotency": true,
	"routing": true, "lookup": true, "cache": true, "object": true, "index": true,
	"pub": true, "encryption": true, "disk": true, "hsm": true, "rsa": true, "ec": true,
	"signing": true, "kms": true, "instrumentation": true, "dedup": true, "sharding": true,
	"shard": true, "hash": true, "map": true, "registry": true, "sku": true,
	"tls": true, "ssl": true,
}

// exemptNames are whole names (lower-cased, separators removed) that look secret-ish but are not.
var exemptNames = map[string]bool{
	"key": true, "keys": true, // a configuration key, a map key
	"disablepasswordauthentication": true, "passwordauthentication": true,
	"enablepasswordauthentication": true, "authenticationtype": true, "keyvault": true,
	"secrettype": true, "tokenstoreenabled": true, "keydata": true, "publickeys": true,
}

// IsSecretName reports whether a parameter, variable, property or setting name says it holds a
// secret: it contains a secret word (password, secret, token, key, connection string, ...) that
// no qualifier turns into metadata (secretName, keyVaultId, passwordLength) and, for "key", that
// no preceding word makes something else (publicKey, partitionKey, customerManagedKey).
func IsSecretName(name string) bool {
	if !mayBeSecretName(name) {
		return false
	}
	words := Words(name)
	if len(words) == 0 || exemptNames[strings.Join(words, "")] {
		return false
	}
	for i, w := range words {
		secret := secretWords[w]
		if !secret {
			// connection + string(s), and single words ending in password/secret/token.
			if (w == "connection" || w == "conn") && i+1 < len(words) && (words[i+1] == "string" || words[i+1] == "strings" || words[i+1] == "str") {
				if i+2 >= len(words) || !qualifiers[words[i+2]] {
					return true
				}
				continue
			}
			if len(w) > 8 && !strings.HasSuffix(w, "less") && (strings.HasSuffix(w, "password") || strings.HasSuffix(w, "secret") || strings.HasPrefix(w, "password")) {
				secret = true
			} else if len(w) > 5 && strings.HasSuffix(w, "token") && w != "cancellationtoken" {
				secret = true
			}
		}
		if !secret {
			continue
		}
		if (w == "key" || w == "keys") && i > 0 && keyExemptBefore[words[i-1]] {
			continue
		}
		if (w == "token" || w == "tokens") && i > 0 && (words[i-1] == "cancellation" || words[i-1] == "continuation" || words[i-1] == "next" || words[i-1] == "page" || words[i-1] == "csrf" || words[i-1] == "pagination") {
			continue
		}
		qualified := false
		for _, after := range words[i+1:] {
			if qualifiers[after] {
				qualified = true
				break
			}
		}
		if !qualified {
			return true
		}
	}
	return false
}

// MentionsPassword reports whether name contains "password" in any case (KV004's output rule).
func MentionsPassword(name string) bool {
	return containsFold(name, "password")
}

// mayBeSecretName is a cheap filter run before splitting a name into words: one pass looking
// for the stems pass, pwd, secret, token, key, conn and cred.
func mayBeSecretName(name string) bool {
	for i := 0; i < len(name); i++ {
		switch name[i] | 0x20 {
		case 'p':
			if hasFold(name[i:], "pass") || hasFold(name[i:], "pwd") {
				return true
			}
		case 's':
			if hasFold(name[i:], "secret") {
				return true
			}
		case 't':
			if hasFold(name[i:], "token") {
				return true
			}
		case 'k':
			if hasFold(name[i:], "key") {
				return true
			}
		case 'c':
			if hasFold(name[i:], "conn") || hasFold(name[i:], "cred") {
				return true
			}
		}
	}
	return false
}

// hasFold reports whether s starts with the lower-case ASCII prefix, ignoring case.
func hasFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for j := 0; j < len(prefix); j++ {
		c := s[j]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[j] {
			return false
		}
	}
	return true
}

// containsFold is an allocation-free ASCII case-insensitive strings.Contains; sub is lower case.
func containsFold(s, sub string) bool {
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for ; j < n; j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
}

// Words splits an identifier into lower-case words at separators and case changes:
// "sqlAdminPassword" -> sql admin password, "SASToken" -> sas token, "DB_PASSWORD" -> db password,
// "ConnectionStrings__Default" -> connection strings default.
func Words(name string) []string {
	var out []string
	var cur []byte
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		isUpper := c >= 'A' && c <= 'Z'
		isLower := c >= 'a' && c <= 'z'
		isDigit := c >= '0' && c <= '9'
		if !isUpper && !isLower && !isDigit {
			flush()
			continue
		}
		if isUpper && len(cur) > 0 {
			prev := cur[len(cur)-1]
			prevLower := prev >= 'a' && prev <= 'z' || prev >= '0' && prev <= '9'
			nextLower := i+1 < len(name) && name[i+1] >= 'a' && name[i+1] <= 'z'
			prevUpper := prev >= 'A' && prev <= 'Z'
			if prevLower || (prevUpper && nextLower) {
				flush()
			}
		}
		cur = append(cur, c)
	}
	flush()
	return out
}
