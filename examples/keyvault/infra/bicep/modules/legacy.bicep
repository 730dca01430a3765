// Badly kept: KV002, KV003, KV004 and KV007 in Bicep.
param location string = resourceGroup().location

@secure()
param adminPassword string = 'ChangeIt-Later-99'

param registryPassword string

resource st 'Microsoft.Storage/storageAccounts@2023-01-01' = {
  name: 'stcontosolegacy'
  location: location
  sku: { name: 'Standard_LRS' }
  kind: 'StorageV2'
}

resource kvSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  name: 'kv-contoso-legacy/registry-password'
  properties: {
    value: 'Reg1stry-Passw0rd-2022'
  }
}

output storageConnection string = 'DefaultEndpointsProtocol=https;AccountName=${st.name};AccountKey=${st.listKeys().keys[0].value}'
