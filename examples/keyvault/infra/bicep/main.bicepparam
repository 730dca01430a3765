using './main.bicep'

param environment = 'prod'
param keyVaultName = 'kv-contoso-prod'
