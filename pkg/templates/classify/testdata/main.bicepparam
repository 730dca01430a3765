using './main.bicep'

import { defaults } from './shared.bicep'

var subscriptionId = '00000000-0000-0000-0000-000000000000'

param location = 'westeurope'
param keyVaultName = 'kv-prod-01'
param env = readEnvironmentVariable('DEPLOY_ENV', 'dev')
param sqlAdminPassword = az.getSecret(subscriptionId, 'rg-security', 'kv-prod-01', 'sqlAdminPassword')
param apiToken = getSecret('00000000-0000-0000-0000-000000000000', 'rg-security', 'kv-prod-01', 'api-token', '0123456789abcdef')
param adminPassword = 'Pa55w0rd!'
param vmCount = 3
param enableDiagnostics = true
param settings = {
  tier: 'Premium'
  password: 'nested-literal'
}
param subnets = [
  '10.0.0.0/24'
  '10.0.1.0/24'
]
