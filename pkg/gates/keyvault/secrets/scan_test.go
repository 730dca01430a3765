package secrets_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/gates/keyvault/kvtest"
	"github.com/stagegate/stagegate/pkg/gates/keyvault/secrets"
)

func kinds(ms []secrets.Match) []secrets.Kind {
	var out []secrets.Kind
	for _, m := range ms {
		out = append(out, m.Kind)
	}
	return out
}

func TestScanFires(t *testing.T) {
	c := kvtest.NewCanaries(1)
	cases := []struct {
		name  string
		src   string
		kind  secrets.Kind
		value string
	}{
		{"storage key json", `{"key": "` + c.StorageKey + `"}`, secrets.StorageAccountKey, c.StorageKey},
		{"storage key yaml", "storageKey: " + c.StorageKey + "\n", secrets.StorageAccountKey, c.StorageKey},
		{"account key connection string", `"DefaultEndpointsProtocol=https;AccountName=stapp;AccountKey=` + c.StorageKey + `;EndpointSuffix=core.windows.net"`, secrets.StorageAccountKey, c.StorageKey},
		{"account key short form", `AccountName=stapp;AccountKey=` + c.StorageKey[:44] + `;`, secrets.StorageAccountKey, c.StorageKey[:44]},
		{"service bus shared access key", `Endpoint=sb://sb-app.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=` + c.StorageKey[:43] + `=`, secrets.ConnectionStringPassword, c.StorageKey[:43] + "="},
		{"sas url", `blobUri: "` + c.SASURL + `"`, secrets.SASSignature, c.SASSignature},
		{"sas token only", `sasToken = "?sv=2022-11-02&ss=b&srt=co&sp=rl&se=2027-01-01T00:00:00Z&sig=` + c.SASSignature + `"`, secrets.SASSignature, c.SASSignature},
		{"client secret hcl", `client_secret = "` + c.ClientSecret + `"`, secrets.ClientSecret, c.ClientSecret},
		{"client secret bicep", `var s = '` + c.ClientSecret + `'`, secrets.ClientSecret, c.ClientSecret},
		{"sql connection string", `"ConnectionStrings": {"Db": "` + c.ConnString + `"}`, secrets.ConnectionStringPassword, c.DBPassword},
		{"pwd key", `Driver={ODBC Driver 18};Server=db;Uid=app;Pwd=` + c.DBPassword + `;`, secrets.ConnectionStringPassword, c.DBPassword},
		{"password last without semicolon after", `Server=db;User Id=app;Password=` + c.DBPassword, secrets.ConnectionStringPassword, c.DBPassword},
		{"url password", `DATABASE_URL: ` + c.URLWithPass, secrets.URLPassword, c.URLPassword},
		{"private key pem", c.PrivateKeyPEM, secrets.PrivateKey, ""},
		{"private key json escaped", `{"key": "` + strings.ReplaceAll(c.PrivateKeyPEM, "\n", `\n`) + `"}`, secrets.PrivateKey, ""},
		{"openssh key yaml block", "key: |\n  -----BEGIN OPENSSH PRIVATE KEY-----\n  " + c.PrivateKeyBody[:70] + "\n  " + c.PrivateKeyBody[70:140] + "\n  -----END OPENSSH PRIVATE KEY-----\n", secrets.PrivateKey, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ms := secrets.Scan([]byte(tc.src))
			require.Len(t, ms, 1, "%v", kinds(ms))
			m := ms[0]
			assert.Equal(t, tc.kind, m.Kind)
			if tc.value != "" {
				assert.Equal(t, tc.value, tc.src[m.Start:m.End])
				assert.NotContains(t, m.Redacted, tc.value[2:])
			}
			assert.Contains(t, m.Redacted, "…")
			assert.Empty(t, c.Leaks(m.Redacted), m.Redacted)
		})
	}
}

func TestScanDoesNotFire(t *testing.T) {
	c := kvtest.NewCanaries(2)
	cases := map[string]string{
		"role definition guid":         `"roleDefinitionId": "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b24988ac-6180-42a0-ab88-20f7382dd24c')]"`,
		"key version":                  `"secretVersion": "0123456789abcdef0123456789abcdef"`,
		"npm integrity":                `"integrity": "sha512-` + c.StorageKey + `"`,
		"low entropy 88":               `"k": "` + strings.Repeat("A", 86) + `=="`,
		"emulator":                     `UseDevelopmentStorage=true;DevelopmentStorageProxyUri=http://127.0.0.1`,
		"arm listkeys connection":      `"[concat('DefaultEndpointsProtocol=https;AccountName=', variables('st'), ';AccountKey=', listKeys(variables('id'), '2023-01-01').keys[0].value)]"`,
		"bicep interpolated":           `'DefaultEndpointsProtocol=https;AccountName=${st.name};AccountKey=${st.listKeys().keys[0].value}'`,
		"terraform interpolated":       `"Server=${azurerm_mssql_server.s.fully_qualified_domain_name};Database=app;User ID=app;Password=${random_password.p.result};"`,
		"pipeline macro":               `Server=db;User ID=app;Password=$(DbPassword);`,
		"placeholder angle":            `Server=db;User ID=app;Password=<your-password>;`,
		"placeholder braces":           `Server=db;User ID=app;Password={your_password};`,
		"no connection context":        `mysql --user=app --password=Hunter2Hunter2 db`,
		"password key not conn":        `password=Hunter2Hunter2`,
		"sas without sv":               `https://x.blob.core.windows.net/c?sig=` + c.SASSignature,
		"sas placeholder":              `?sv=2022-11-02&se=2027-01-01&sig=<signature>`,
		"client secret placeholder":    `client_secret = "abc8Q~xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"`,
		"tilde path":                   `path: ~/.ssh/id_rsa`,
		"private key placeholder":      "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
		"private key var":              `"-----BEGIN PRIVATE KEY-----\n${var.key}\n-----END PRIVATE KEY-----"`,
		"public key":                   "-----BEGIN PUBLIC KEY-----\n" + c.PrivateKeyBody[:200] + "\n-----END PUBLIC KEY-----",
		"certificate":                  "-----BEGIN CERTIFICATE-----\n" + c.PrivateKeyBody[:200] + "\n-----END CERTIFICATE-----",
		"url without password":         `https://user@dev.azure.com/org/_git/repo`,
		"url placeholder":              `postgres://app:${DB_PASSWORD}@db:5432/app`,
		"url macro":                    `https://build:$(System.AccessToken)@dev.azure.com/org/_git/repo`,
		"schema url":                   `"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"`,
		"base64 64 bytes with dash":    `"thumb": "-` + c.StorageKey + `"`,
		"bicep getsecret":              `adminPassword: kv.getSecret('vm-admin-password')`,
		"hcl attribute equals":         "name     = \"password\"\nvalue    = azurerm_key_vault_secret.db.value\n",
		"kv reference":                 `"value": "@Microsoft.KeyVault(SecretUri=https://kv-app.vault.azure.net/secrets/db/)"`,
		"empty password":               `Server=db;User ID=app;Password=;`,
		"quoted concatenated arm":      `"[concat('Server=db;Password=', parameters('pw'), ';')]"`,
		"sha256 base64 not 88":         `"digest": "` + base64.StdEncoding.EncodeToString(make([]byte, 32)) + `"`,
		"trusted connection":           `Server=(localdb)\\mssqllocaldb;Database=app;Trusted_Connection=True;MultipleActiveResultSets=true`,
		"managed identity connection":  `Server=tcp:sql.database.windows.net;Authentication=Active Directory Managed Identity;Database=app;`,
		"nuget content hash":           `"contentHash": "` + c.StorageKey + `"`,
		"signature field":              `signature: ` + c.StorageKey,
		"local default credentials":    `RABBITMQ_URL: amqp://guest:guest@localhost:5672`,
		"obvious placeholder password": `postgres://app:password@localhost:5432/app`,
		"url user only with port":      `https://dev.azure.com:443/org`,
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			ms := secrets.Scan([]byte(src))
			assert.Empty(t, ms, "%v", kinds(ms))
		})
	}
}

func TestScanMultipleOrdered(t *testing.T) {
	c := kvtest.NewCanaries(3)
	src := fmt.Sprintf("a: %s\nb: %s\nc: %s\nd: %s\n", c.ConnString, c.StorageKey, c.ClientSecret, c.SASURL)
	ms := secrets.Scan([]byte(src))
	assert.Equal(t, []secrets.Kind{secrets.ConnectionStringPassword, secrets.StorageAccountKey, secrets.ClientSecret, secrets.SASSignature}, kinds(ms))
	for i := 1; i < len(ms); i++ {
		assert.LessOrEqual(t, ms[i-1].End, ms[i].Start)
	}
}

func FuzzScan(f *testing.F) {
	c := kvtest.NewCanaries(4)
	for _, s := range []string{c.ConnString, c.SASURL, c.PrivateKeyPEM, c.URLWithPass, "k=" + c.StorageKey, c.ClientSecret, "==", "sig=", "://:@", "-----BEGIN PRIVATE KEY-----", "~"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		ms := secrets.Scan(src)
		end := 0
		for _, m := range ms {
			if m.Start < end || m.End > len(src) || m.Start >= m.End {
				t.Fatalf("bad span %d..%d after %d in %d bytes", m.Start, m.End, end, len(src))
			}
			end = m.End
			if v := string(src[m.Start:m.End]); len(v) >= 12 && strings.Contains(m.Redacted, v) {
				t.Fatalf("redacted form %q contains the value", m.Redacted)
			}
		}
	})
}

func BenchmarkScan(b *testing.B) {
	c := kvtest.NewCanaries(5)
	var sb strings.Builder
	for sb.Len() < 4<<20 {
		sb.WriteString(`{"type": "Microsoft.Web/sites", "name": "[parameters('siteName')]", "properties": {"siteConfig": {"appSettings": [{"name": "A", "value": "[reference(resourceId('Microsoft.Insights/components', 'x')).ConnectionString]"}]}}},` + "\n")
		sb.WriteString("resource \"azurerm_storage_account\" \"sa\" {\n  name = \"stapp\"\n  account_tier = \"Standard\"\n}\n")
	}
	sb.WriteString(c.ConnString)
	src := []byte(sb.String())
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if len(secrets.Scan(src)) != 1 {
			b.Fatal("expected one match")
		}
	}
}
