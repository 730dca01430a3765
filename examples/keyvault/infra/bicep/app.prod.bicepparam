using './app.bicep'

param appName = 'app-contoso-prod'
param databaseConnectionString = az.getSecret('8f2d1c34-5b6a-4e7f-9a0b-1c2d3e4f5a6b', 'rg-shared-security', 'kv-contoso-prod', 'db-connection-string')
