package secrets

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestIsSecretName(t *testing.T) {
	secret := []string{
		"password", "adminPassword", "administratorLoginPassword", "sqlAdministratorLoginPassword",
		"vmAdminPasswordOrKey", "DB_PASSWORD", "db-password", "dbpassword", "Password1", "pwd", "passwd",
		"clientSecret", "CLIENT_SECRET", "appSecret", "secret", "sasToken", "SASToken", "accessToken",
		"githubToken", "storageAccountKey", "primaryKey", "apiKey", "APIKEY", "subscriptionKey",
		"sharedAccessKey", "accountKey", "connectionString", "ConnectionStrings__Default",
		"DB_CONNECTION_STRING", "connStr", "credentials", "registryPassword", "keyValue",
		"passphrase", "licenseKey", "adminPasswordForSql", "mySecret",
	}
	notSecret := []string{
		"publicKey", "sshPublicKey", "keyVaultName", "keyVaultId", "keyVaultResourceId", "secretName",
		"adminPasswordSecretName", "kvSecretName", "keyName", "keyVersion", "keySource", "keyType",
		"secretUri", "tokenLifetime", "passwordLength", "passwordAuthentication",
		"disablePasswordAuthentication", "customerManagedKey", "partitionKey", "partitionKeyPath",
		"connectionStringName", "tokenStoreEnabled", "secretsExportConfiguration", "key", "keys",
		"instrumentationKey", "adminUsername", "location", "monkey", "passwordless", "cancellationToken",
		"encryptionKeyName", "keyExpirationPeriodInDays", "secretsPermissions", "sku", "",
		"sshKey", "rowKey", "passwordProfile", "keyVaultSecretId",
	}
	for _, n := range secret {
		assert.True(t, IsSecretName(n), "%q should say secret (words %v)", n, Words(n))
	}
	for _, n := range notSecret {
		assert.False(t, IsSecretName(n), "%q should not say secret (words %v)", n, Words(n))
	}
}

func TestWords(t *testing.T) {
	cases := map[string][]string{
		"sqlAdminPassword":           {"sql", "admin", "password"},
		"SASToken":                   {"sas", "token"},
		"DB_PASSWORD":                {"db", "password"},
		"ConnectionStrings__Default": {"connection", "strings", "default"},
		"storage-account-key":        {"storage", "account", "key"},
		"HTTPServerURL":              {"http", "server", "url"},
		"v2Key":                      {"v2", "key"},
		"":                           nil,
	}
	for in, want := range cases {
		assert.Equal(t, want, Words(in), in)
	}
}

func TestMentionsPassword(t *testing.T) {
	assert.True(t, MentionsPassword("adminPASSWORD"))
	assert.True(t, MentionsPassword("passwordHint"))
	assert.False(t, MentionsPassword("adminPwd"))
}

func TestIsPlaceholder(t *testing.T) {
	placeholders := []string{
		"", "  ", "GEN-PASSWORD", "GEN-UNIQUE[12]", "<password>", "<your-password>", "$(dbPassword)",
		"$[ variables.pw ]", "${{ secrets.DB_PASSWORD }}", "${{ parameters.pw }}", "${var.db_password}",
		"[parameters('adminPassword')]", "#{DbPassword}#", "__DbPassword__", "%DB_PASSWORD%",
		"{{ .Values.password }}", "$DB_PASSWORD", "$env:DB_PASSWORD", "{your_password}", "*****",
		"xxxxxxxx", "changeme", "REPLACE_ME", "your-secret-here", "...", "redacted", "P@ss-$(suffix)",
		"example-password",
	}
	literals := []string{"Zq7Kd93LmPq", "P@ssw0rd!", "hunter2x", "[[notAnExpression]", "{\"a\":1}", "s3cr3t-V4lue"}
	for _, v := range placeholders {
		assert.True(t, IsPlaceholder(v), "%q", v)
	}
	for _, v := range literals {
		assert.False(t, IsPlaceholder(v), "%q", v)
	}
}

func TestRedact(t *testing.T) {
	assert.Equal(t, "…(8 chars)", Redact("hunter2x"))
	assert.Equal(t, "ab…(20 chars)", Redact("abcdefghijklmnopqrst"))
	assert.Equal(t, "…(16 chars)", Redact("%2Bcdefghijklmno"), "escape-significant characters are not shown")
	assert.Equal(t, "…(0 chars)", Redact(""))
	assert.NotEqual(t, ValueHash(Redact("hunter2x")), ValueHash(Redact("hunter2xy")))
}
