@description('Existing vault in another resource group')
param vaultName string
param vaultRg string
@secure()
param dbPassword string

resource kv 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
  scope: resourceGroup(vaultRg)
}

resource kvLocal 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: '${vaultName}-local'
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: kvLocal
  name: 'db-password'
  properties: {
    value: dbPassword
    attributes: { enabled: true, exp: 1767225600 }
  }
}

module sqlMod 'sql.bicep' = {
  name: 'sql'
  params: {
    adminLogin: 'sqladmin'
    adminPassword: kv.getSecret('sql-admin')
  }
}
