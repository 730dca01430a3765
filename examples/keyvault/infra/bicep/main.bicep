// Well-kept: secrets reach the SQL module through kv.getSecret(), never as literals.
targetScope = 'resourceGroup'

@description('Azure region for every resource.')
param location string = resourceGroup().location

@description('Environment short name.')
@allowed([ 'dev', 'prod' ])
param environment string = 'prod'

@description('Name of the Key Vault that holds the SQL administrator password.')
param keyVaultName string = 'kv-contoso-prod'

@description('Use the break-glass password instead of the rotated one.')
param useBreakGlass bool = false

resource kv 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
  scope: resourceGroup('8f2d1c34-5b6a-4e7f-9a0b-1c2d3e4f5a6b', 'rg-shared-security')
}

resource kvShared 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: 'kv-contoso-shared'
}

module sql 'modules/sql.bicep' = {
  name: 'sql-${environment}'
  params: {
    location: location
    serverName: 'sql-contoso-${environment}'
    administratorLogin: 'sqladmin'
    administratorLoginPassword: useBreakGlass ? kvShared.getSecret('sql-break-glass') : kv.getSecret('sql-admin-password')
  }
}

output sqlServerFqdn string = sql.outputs.fullyQualifiedDomainName
