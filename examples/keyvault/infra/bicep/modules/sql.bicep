@description('Azure region.')
param location string

@description('SQL logical server name.')
param serverName string

@description('Administrator login.')
param administratorLogin string

@secure()
@description('Administrator password, from Key Vault.')
param administratorLoginPassword string

resource server 'Microsoft.Sql/servers@2023-05-01-preview' = {
  name: serverName
  location: location
  properties: {
    administratorLogin: administratorLogin
    administratorLoginPassword: administratorLoginPassword
    minimalTlsVersion: '1.2'
    publicNetworkAccess: 'Disabled'
  }
}

output fullyQualifiedDomainName string = server.properties.fullyQualifiedDomainName
