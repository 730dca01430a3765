// The web app's template: its connection string is a secure parameter.
param location string = resourceGroup().location
param appName string

@secure()
param databaseConnectionString string

resource plan 'Microsoft.Web/serverfarms@2023-01-01' = {
  name: 'plan-${appName}'
  location: location
  sku: { name: 'P1v3' }
}

resource app 'Microsoft.Web/sites@2023-01-01' = {
  name: appName
  location: location
  properties: {
    serverFarmId: plan.id
    siteConfig: {
      appSettings: [
        { name: 'DB_CONNECTION', value: databaseConnectionString }
        { name: 'API_KEY', value: '@Microsoft.KeyVault(SecretUri=https://kv-contoso-prod.vault.azure.net/secrets/api-key/)' }
      ]
    }
  }
}
