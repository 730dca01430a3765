// Web app with SQL, secrets from Key Vault
targetScope = 'resourceGroup'

metadata description = 'Sample workload'

import { tagsType } from './types.bicep'
import * as shared from './shared.bicep'

@description('Location for all resources')
param location string = resourceGroup().location

@secure()
@description('SQL administrator password')
param sqlAdminPassword string

@sys.secure()
param apiToken string = ''

param adminPassword string = 'Pa55w0rd!'

@allowed([
  'dev'
  'prod'
])
param env string = 'dev'

@minLength(3)
@maxLength(24)
param keyVaultName string

param vmCount int = 2
param enableDiagnostics bool = false
param tags tagsType?
param settings object = {
  tier: 'Standard'
  retention: 7
}
param subnets string[] = []
param sku 'Basic' | 'Standard' = 'Basic'

type storageConfig = {
  @description('The SKU')
  sku: string
  kind: 'StorageV2' | 'BlobStorage'
}

@export()
func buildName(prefix string, suffix string) string => '${prefix}-${suffix}'

var prefix = 'app${uniqueString(resourceGroup().id)}'
var isProd = env == 'prod'
var connection = 'Server=tcp:${sql.properties.fullyQualifiedDomainName};Password=${sqlAdminPassword}'
var script = '''
#!/bin/bash
echo "it's multi-line"
'''
var names = [for i in range(0, vmCount): '${prefix}-vm${i}']
var evens = filter(range(0, 10), n => n % 2 == 0)
var pairs = map(subnets, (s, i) => { name: s, index: i })
var sizeLabel = vmCount > 3
  ? 'large'
  : 'small'
var merged = union(settings, { extra: true }, {
  ...settings
  tier: settings.?tier ?? 'Basic'
})

resource kv 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
  scope: resourceGroup('00000000-0000-0000-0000-000000000000', 'rg-security')
}

resource storage 'Microsoft.Storage/storageAccounts@2023-01-01' = {
  name: '${prefix}st'
  location: location
  sku: {
    name: isProd ? 'Standard_GRS' : 'Standard_LRS'
  }
  kind: 'StorageV2'
  properties: {
    minimumTlsVersion: 'TLS1_2'
  }
}

resource sql 'Microsoft.Sql/servers@2022-05-01-preview' = {
  name: '${prefix}-sql'
  location: location
  properties: {
    administratorLogin: 'sqladmin'
    administratorLoginPassword: sqlAdminPassword
  }

  resource db 'databases' = {
    name: 'appdb'
    location: location
    sku: { name: 'S0', tier: 'Standard' }
  }

  @batchSize(1)
  resource rules 'firewallRules@2022-05-01-preview' = [for (cidr, i) in subnets: {
    name: 'rule${i}'
    properties: {
      startIpAddress: cidr
      endIpAddress: cidr
    }
  }]
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = if (isProd) {
  name: '${prefix}-kv'
  location: location
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enabledForTemplateDeployment: true
  }

  resource secret 'secrets' = {
    name: 'literal-secret'
    properties: {
      value: 'hunter2'
    }
  }
}

resource vms 'Microsoft.Compute/virtualMachines@2023-03-01' = [for name in names: if (vmCount > 0) {
  name: name
  location: location
  properties: {
    osProfile: {
      computerName: name
      adminUsername: 'azureuser'
      adminPassword: adminPassword
    }
  }
}]

#disable-next-line BCP081
resource ext 'Microsoft.Compute/virtualMachines/extensions@2023-03-01' = {
  parent: vms[0]
  name: 'setup'
  properties: {
    publisher: 'Microsoft.Azure.Extensions'
    type: 'CustomScript'
    typeHandlerVersion: '2.1'
    settings: {
      commandToExecute: 'sh setup.sh ${sqlAdminPassword}'
    }
    protectedSettings: {}
  }
}

module web './modules/web.bicep' = {
  name: 'web-${env}'
  params: {
    location: location
    dbPassword: kv.getSecret('sqlAdminPassword')
    apiKey: kv.getSecret('api-key', '0123456789abcdef')
    connection: connection
    tags: tags ?? {}
  }
}

module regional 'br/public:avm/res/web/site:0.3.0' = [for region in ['westeurope', 'northeurope']: {
  name: 'site-${region}'
  params: {
    name: '${prefix}-${region}'
    location: region
  }
}]

module optional './modules/opt.bicep' = if (enableDiagnostics && !isProd) {
  name: 'opt'
  params: {
    workspaceKey: storage.listKeys().keys[0].value
  }
}

@description('Storage endpoint')
output blobEndpoint string = storage.properties.primaryEndpoints.blob

output storageKey string = storage.listKeys().keys[0].value

@secure()
output adminPasswordOut string = adminPassword

output connectionString string = connection
output kvResource resource 'Microsoft.KeyVault/vaults@2023-07-01' = vault
output vmNames array = [for (n, i) in names: {
  index: i
  name: n
}]
output first string = names[0]!
output labels object = {
  'quoted-key': 'a'
  '${env}-key': 'b'
  escaped: 'it\'s \${literal} \u{1F600}'
}
