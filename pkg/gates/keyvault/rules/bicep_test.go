package rules

import "testing"

func TestBicepRules(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "KV002 and KV003 declarations", files: map[string]string{"main.bicep": `
@secure()
param literalDefault string = 'Summer2023!' // <-KV002
@secure()
param interpolatedDefault string = 'P${uniqueString(resourceGroup().id)}!' // <-KV002
@secure()
param objectDefault object = { password: 'x' } // <-KV002
@sys.secure()
param guidDefault string = newGuid()
@secure()
param emptyDefault string = ''
@secure()
param emptyObject object = {}
@secure()
param passThrough string = literalDefault
param apiKey string // <-KV003
param credentials object // <-KV003
param clientSecret string? // <-KV003
param sshPublicKey string
param keyVaultName string = 'kv-app'
param secretName string
param enablePassword bool = true
param tokenCount int = 3
param keys array = []
param customerManagedKey customerManagedKeyType?
`}},
		{name: "KV004 outputs", files: map[string]string{"main.bicep": `
@secure()
param adminPassword string
param storageName string

resource st 'Microsoft.Storage/storageAccounts@2023-01-01' existing = {
  name: storageName
}

var pw = adminPassword
var cs = 'DefaultEndpointsProtocol=https;AccountName=${st.name};AccountKey=${st.listKeys().keys[0].value}'

output key string = st.listKeys().keys[0].value // <-KV004
output fn string = listKeys(st.id, '2023-01-01').keys[0].value // <-KV004
output echo string = adminPassword // <-KV004
output viaVar string = cs // <-KV004
output viaVar2 string = '${pw}-x' // <-KV004
output adminPasswordHint string = 'ask the team' // <-KV004
@secure()
output secureKey string = st.listKeys().keys[0].value
output id string = st.id
output endpoint string = st.properties.primaryEndpoints.blob
`}},
		{name: "KV005 script extensions", files: map[string]string{"main.bicep": `
@secure()
param adminPassword string
param dbPassword string // <-KV003
param scriptUri string

resource vm 'Microsoft.Compute/virtualMachines@2023-09-01' existing = {
  name: 'vm'
}

resource ext 'Microsoft.Compute/virtualMachines/extensions@2023-09-01' = {
  parent: vm
  name: 'bootstrap'
  location: 'westeurope'
  properties: {
    publisher: 'Microsoft.Azure.Extensions'
    type: 'CustomScript'
    typeHandlerVersion: '2.1'
    settings: {
      fileUris: [ scriptUri ]
      commandToExecute: 'bash setup.sh --password ${adminPassword}' // <-KV005
    }
  }
}

resource ext2 'Microsoft.Compute/virtualMachines/extensions@2023-09-01' = {
  parent: vm
  name: 'second'
  location: 'westeurope'
  properties: {
    settings: {
      commandToExecute: 'bash x.sh ${dbPassword}' // <-KV005
    }
  }
}

resource ok 'Microsoft.Compute/virtualMachines/extensions@2023-09-01' = {
  parent: vm
  name: 'ok'
  location: 'westeurope'
  properties: {
    settings: {
      fileUris: [ scriptUri ]
    }
    protectedSettings: {
      commandToExecute: 'bash setup.sh --password ${adminPassword}'
    }
  }
}
`}},
		{name: "KV007 sensitive properties", files: map[string]string{"main.bicep": `
param useA bool
@secure()
param sqlPassword string

resource sql 'Microsoft.Sql/servers@2023-05-01-preview' = {
  name: 'sql-app'
  location: 'westeurope'
  properties: {
    administratorLogin: 'sqladmin'
    administratorLoginPassword: '{{password}}' // <-KV007
  }
}

resource sql2 'Microsoft.Sql/servers@2023-05-01-preview' = {
  name: 'sql-app2'
  location: 'westeurope'
  properties: {
    administratorLogin: 'sqladmin'
    administratorLoginPassword: useA ? sqlPassword : '{{password}}' // <-KV007
  }
}

resource kv 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: 'kv-app'
  resource secret 'secrets' = {
    name: 'db'
    properties: {
      value: '{{password}}' // <-KV007
    }
  }
}

resource kvSecretOk 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  name: 'kv-app/generated'
  properties: {
    value: sqlPassword
  }
}

resource app 'Microsoft.Web/sites@2023-01-01' = {
  name: 'app'
  location: 'westeurope'
  properties: {
    siteConfig: {
      appSettings: [
        { name: 'DB_PASSWORD', value: '{{password}}' } // <-KV007
        { name: 'API_KEY', value: '@Microsoft.KeyVault(VaultName=kv-app;SecretName=api-key)' }
        { name: 'WEBSITE_RUN_FROM_PACKAGE', value: '1' }
        { name: 'SECRET_FROM_PIPELINE', value: '#{SecretFromPipeline}#' }
      ]
      connectionStrings: [
        { name: 'db', connectionString: 'Server=tcp:sql.database.windows.net;Database=app;Authentication=Active Directory Default;', type: 'SQLAzure' }
      ]
    }
  }
}

resource aci 'Microsoft.ContainerInstance/containerGroups@2023-05-01' = {
  name: 'aci'
  location: 'westeurope'
  properties: {
    osType: 'Linux'
    containers: [for i in range(0, 2): {
      name: 'c${i}'
      properties: {
        environmentVariables: [
          { name: 'MODE', secureValue: '{{password}}' } // <-KV007
        ]
      }
    }]
    imageRegistryCredentials: [
      { server: 'acr.azurecr.io', username: 'acr', password: '{{password}}' } // <-KV007
    ]
  }
}

resource st 'Microsoft.Storage/storageAccounts@2023-01-01' = {
  name: 'stapp'
  location: 'westeurope'
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    allowSharedKeyAccess: false
    encryption: { keySource: 'Microsoft.Storage' }
  }
}
`}},
		{name: "KV008 getSecret in modules, conditional", allow: []string{"kv-app", "kv-shared"}, files: map[string]string{
			"main.bicep": `
param useShared bool
param kvName string

resource kv 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: 'kv-app'
}
resource kvShared 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: 'kv-shared'
  scope: resourceGroup('00000000-1111-2222-3333-444444444444', 'rg-shared')
}
resource kvRogue 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: 'kv-rogue'
}
resource kvDynamic 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: kvName
}

module sql 'modules/sql.bicep' = {
  name: 'sql'
  params: {
    administratorLoginPassword: useShared ? kvShared.getSecret('sql-admin') : kv.getSecret('sql_admin') // <-KV008
    second: kvRogue.getSecret('x') // <-KV008
    third: kvDynamic.getSecret('x') // <-KV008:warning
    fourth: kv.getSecret('x', '0123456789abcdef0123456789abcdef')
  }
}
`,
			"modules/sql.bicep": "@secure()\nparam administratorLoginPassword string\n@secure()\nparam second string\n@secure()\nparam third string\n@secure()\nparam fourth string\n",
		}},
		{name: "KV001 module literals", files: map[string]string{
			"main.bicep": `
var shared = 'not-a-secret'
module sql 'modules/sql.bicep' = {
  name: 'sql'
  params: {
    administratorLoginPassword: '{{password}}' // <-KV001
    administratorLogin: 'sqladmin'
    location: shared
  }
}
module avm 'br/public:avm/res/sql/server:0.4.0' = {
  name: 'avm'
  params: {
    name: 'sql-avm'
    administratorLoginPassword: '{{password}}' // <-KV001
    skuCapacity: 2
  }
}
`,
			"modules/sql.bicep": "param location string\nparam administratorLogin string\n@secure()\nparam administratorLoginPassword string\n",
		}},
		{name: "KV001 and KV008 in bicepparam files", allow: []string{"kv-app"}, files: map[string]string{
			"main.bicep": "@secure()\nparam adminPassword string\n@secure()\nparam apiToken string\nparam location string\n@secure()\nparam fromEnv string\n@secure()\nparam viaVar string\n",
			"main.bicepparam": `using './main.bicep'

var secretish = '{{password}}'
param adminPassword = '{{password}}' // <-KV001
param apiToken = az.getSecret('00000000-1111-2222-3333-444444444444', 'rg', 'kv-app', 'api-token')
param location = 'westeurope'
param fromEnv = readEnvironmentVariable('APP_SECRET')
param viaVar = secretish // <-KV001
`,
			"refs.bicepparam": `using 'br/public:avm/res/web/site:0.3.0'

param a = az.getSecret('00000000-1111-2222-3333-444444444444', 'rg', 'kv-app', 'bad_name') // <-KV008
param b = az.getSecret('not-a-guid', 'rg', 'kv-app', 'good') // <-KV008
param c = az.getSecret('00000000-1111-2222-3333-444444444444', 'rg', 'kv-rogue', 'good') // <-KV008
param d = getSecret('00000000-1111-2222-3333-444444444444', 'rg', 'kv-app', 'good', '0123456789abcdef0123456789abcdef')
param clientSecret = '{{password}}' // <-KV001
param skuName = 'P1v3'
`,
			"none.bicepparam": "using none\n\nparam sqlPassword = '{{password}}' // <-KV001\nparam location = 'westeurope'\n",
		}},
	})
}
