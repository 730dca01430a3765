package kvtest

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// Built-in role definition ids: GUIDs everywhere in role assignments, never credentials.
var roleIDs = []string{
	"b24988ac-6180-42a0-ab88-20f7382dd24c", // Contributor
	"acdd72a7-3385-48ef-bd42-f606fba81ae7", // Reader
	"2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", // Storage Blob Data Reader
	"ba92f5b4-2d11-453d-a403-e96b0029c9fe", // Storage Blob Data Contributor
	"4633458b-17de-408a-b874-0445c86b69e6", // Key Vault Secrets User
	"00482a5a-887f-4fb3-b363-3b7fe8e74483", // Key Vault Administrator
	"7f951dda-4ed3-4680-a7ca-43fe172d538d", // AcrPull
}

// gen produces realistic, well-kept files: every secret comes from a Key Vault reference, a
// secure parameter or a pipeline secret, and the files are full of values that look random but
// are not credentials (GUIDs, key versions, hashes, resource ids).
type gen struct {
	r   *rand.Rand
	env []string
}

func newGen(seed uint64) *gen {
	return &gen{r: rand.New(rand.NewPCG(seed, seed*31+7)), env: []string{"dev", "test", "prod"}}
}

func (g *gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

func (g *gen) guid() string {
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (g *gen) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.r.IntN(16)]
	}
	return string(b)
}

func (g *gen) word() string {
	return g.pick("app", "web", "api", "data", "core", "ops", "shop", "pay", "auth", "search", "media", "hub")
}

func (g *gen) name(prefix string) string {
	return fmt.Sprintf("%s-%s-%s-%03d", prefix, g.word(), g.pick(g.env...), g.r.IntN(1000))
}

func (g *gen) vaultID() string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/rg-%s-security/providers/Microsoft.KeyVault/vaults/kv-%s-%s", g.guid(), g.word(), g.word(), g.pick(g.env...))
}

func (g *gen) sha512() string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	return base64.StdEncoding.EncodeToString(b)
}

// armStorage is a storage account with role assignments, a customer-managed key and outputs.
func (g *gen) armStorage() string {
	var roles []string
	for i := 0; i < 2+g.r.IntN(4); i++ {
		roles = append(roles, fmt.Sprintf(`    {
      "type": "Microsoft.Authorization/roleAssignments",
      "apiVersion": "2022-04-01",
      "scope": "[format('Microsoft.Storage/storageAccounts/{0}', parameters('storageAccountName'))]",
      "name": "[guid(resourceId('Microsoft.Storage/storageAccounts', parameters('storageAccountName')), '%s', '%s')]",
      "properties": {
        "roleDefinitionId": "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '%s')]",
        "principalId": "%s",
        "principalType": "%s"
      },
      "dependsOn": [ "[resourceId('Microsoft.Storage/storageAccounts', parameters('storageAccountName'))]" ]
    }`, g.guid(), roleIDs[g.r.IntN(len(roleIDs))], roleIDs[g.r.IntN(len(roleIDs))], g.guid(), g.pick("ServicePrincipal", "Group", "User")))
	}
	return fmt.Sprintf(`{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "metadata": { "_generator": { "name": "bicep", "version": "0.28.1.47646", "templateHash": "%d" } },
  "parameters": {
    "storageAccountName": { "type": "string", "minLength": 3, "maxLength": 24 },
    "location": { "type": "string", "defaultValue": "[resourceGroup().location]" },
    "skuName": { "type": "string", "defaultValue": "Standard_ZRS", "allowedValues": [ "Standard_LRS", "Standard_ZRS", "Standard_GRS" ] },
    "allowSharedKeyAccess": { "type": "bool", "defaultValue": false },
    "keyVaultResourceId": { "type": "string" },
    "cmkKeyName": { "type": "string", "defaultValue": "cmk-storage" },
    "cmkKeyVersion": { "type": "string", "defaultValue": "%s" },
    "customerManagedKey": { "type": "object", "defaultValue": {} },
    "tags": { "type": "object", "defaultValue": { "costCenter": "%d", "owner": "platform" } }
  },
  "variables": {
    "keyVaultName": "[last(split(parameters('keyVaultResourceId'), '/'))]",
    "containers": [ "logs", "exports", "%s" ]
  },
  "resources": [
    {
      "type": "Microsoft.Storage/storageAccounts",
      "apiVersion": "2023-01-01",
      "name": "[parameters('storageAccountName')]",
      "location": "[parameters('location')]",
      "sku": { "name": "[parameters('skuName')]" },
      "kind": "StorageV2",
      "identity": { "type": "SystemAssigned" },
      "tags": "[parameters('tags')]",
      "properties": {
        "minimumTlsVersion": "TLS1_2",
        "allowBlobPublicAccess": false,
        "allowSharedKeyAccess": "[parameters('allowSharedKeyAccess')]",
        "publicNetworkAccess": "Disabled",
        "encryption": {
          "keySource": "Microsoft.Keyvault",
          "keyvaultproperties": {
            "keyname": "[parameters('cmkKeyName')]",
            "keyversion": "[parameters('cmkKeyVersion')]",
            "keyvaulturi": "[reference(parameters('keyVaultResourceId'), '2023-07-01').vaultUri]"
          },
          "services": { "blob": { "enabled": true, "keyType": "Account" }, "file": { "enabled": true, "keyType": "Account" } }
        }
      }
    },
    {
      "copy": { "name": "containers", "count": "[length(variables('containers'))]" },
      "type": "Microsoft.Storage/storageAccounts/blobServices/containers",
      "apiVersion": "2023-01-01",
      "name": "[format('{0}/default/{1}', parameters('storageAccountName'), variables('containers')[copyIndex()])]",
      "properties": { "publicAccess": "None" },
      "dependsOn": [ "[resourceId('Microsoft.Storage/storageAccounts', parameters('storageAccountName'))]" ]
    },
%s
  ],
  "outputs": {
    "resourceId": { "type": "string", "value": "[resourceId('Microsoft.Storage/storageAccounts', parameters('storageAccountName'))]" },
    "primaryBlobEndpoint": { "type": "string", "value": "[reference(resourceId('Microsoft.Storage/storageAccounts', parameters('storageAccountName')), '2023-01-01').primaryEndpoints.blob]" },
    "principalId": { "type": "string", "value": "[reference(resourceId('Microsoft.Storage/storageAccounts', parameters('storageAccountName')), '2023-01-01', 'full').identity.principalId]" }
  }
}
`, g.r.Uint64(), g.hex(32), 1000+g.r.IntN(9000), g.word(), strings.Join(roles, ",\n"))
}

func (g *gen) storageName() string {
	n := "st" + g.word() + g.hex(6)
	return n[:min(len(n), 24)]
}

// armVM is a VM whose password is a secure parameter and whose script runs from protected settings.
func (g *gen) armVM() string {
	return fmt.Sprintf(`{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "parameters": {
    "vmName": { "type": "string", "defaultValue": "%s" },
    "adminUsername": { "type": "string", "defaultValue": "azureuser" },
    "authenticationType": { "type": "string", "defaultValue": "password", "allowedValues": [ "sshPublicKey", "password" ] },
    "adminPasswordOrKey": { "type": "securestring" },
    "vmSize": { "type": "string", "defaultValue": "Standard_D4s_v5" },
    "storageAccountName": { "type": "string" },
    "location": { "type": "string", "defaultValue": "[resourceGroup().location]" }
  },
  "variables": {
    "nicName": "[format('{0}-nic', parameters('vmName'))]",
    "linuxConfiguration": {
      "disablePasswordAuthentication": true,
      "ssh": { "publicKeys": [ { "path": "[format('/home/{0}/.ssh/authorized_keys', parameters('adminUsername'))]", "keyData": "[parameters('adminPasswordOrKey')]" } ] }
    },
    "imageReference": { "publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts-gen2", "version": "latest" }
  },
  "resources": [
    {
      "type": "Microsoft.Compute/virtualMachines",
      "apiVersion": "2023-09-01",
      "name": "[parameters('vmName')]",
      "location": "[parameters('location')]",
      "identity": { "type": "SystemAssigned" },
      "properties": {
        "hardwareProfile": { "vmSize": "[parameters('vmSize')]" },
        "osProfile": {
          "computerName": "[parameters('vmName')]",
          "adminUsername": "[parameters('adminUsername')]",
          "adminPassword": "[parameters('adminPasswordOrKey')]",
          "linuxConfiguration": "[if(equals(parameters('authenticationType'), 'password'), null(), variables('linuxConfiguration'))]"
        },
        "storageProfile": { "imageReference": "[variables('imageReference')]", "osDisk": { "createOption": "FromImage", "managedDisk": { "storageAccountType": "Premium_LRS" } } },
        "networkProfile": { "networkInterfaces": [ { "id": "[resourceId('Microsoft.Network/networkInterfaces', variables('nicName'))]" } ] },
        "securityProfile": { "securityType": "TrustedLaunch", "uefiSettings": { "secureBootEnabled": true, "vTpmEnabled": true } }
      }
    },
    {
      "type": "Microsoft.Compute/virtualMachines/extensions",
      "apiVersion": "2023-09-01",
      "name": "[format('{0}/{1}', parameters('vmName'), 'bootstrap')]",
      "location": "[parameters('location')]",
      "properties": {
        "publisher": "Microsoft.Azure.Extensions",
        "type": "CustomScript",
        "typeHandlerVersion": "2.1",
        "autoUpgradeMinorVersion": true,
        "settings": { "fileUris": [ "https://%s.blob.core.windows.net/scripts/bootstrap.sh" ] },
        "protectedSettings": {
          "commandToExecute": "[format('bash bootstrap.sh {0} {1}', parameters('adminUsername'), listKeys(resourceId('Microsoft.Storage/storageAccounts', parameters('storageAccountName')), '2023-01-01').keys[0].value)]",
          "managedIdentity": {}
        }
      },
      "dependsOn": [ "[resourceId('Microsoft.Compute/virtualMachines', parameters('vmName'))]" ]
    }
  ],
  "outputs": {
    "vmId": { "type": "string", "value": "[resourceId('Microsoft.Compute/virtualMachines', parameters('vmName'))]" },
    "principalId": { "type": "string", "value": "[reference(resourceId('Microsoft.Compute/virtualMachines', parameters('vmName')), '2023-09-01', 'full').identity.principalId]" }
  }
}
`, g.name("vm"), g.storageName())
}

// armWebApp is an App Service whose settings are Key Vault references, deployed through an
// inner-scope nested deployment that receives a secure parameter.
func (g *gen) armWebApp() string {
	kv := fmt.Sprintf("kv-%s-%s", g.word(), g.pick(g.env...))
	return fmt.Sprintf(`{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "parameters": {
    "appName": { "type": "string" },
    "planId": { "type": "string" },
    "sqlAdministratorLoginPassword": { "type": "securestring" },
    "keyVaultName": { "type": "string", "defaultValue": "%s" },
    "secretNames": { "type": "array", "defaultValue": [ "db-connection", "api-key", "storage-connection" ] }
  },
  "resources": [
    {
      "type": "Microsoft.Web/sites",
      "apiVersion": "2023-01-01",
      "name": "[parameters('appName')]",
      "location": "[resourceGroup().location]",
      "identity": { "type": "SystemAssigned" },
      "properties": {
        "serverFarmId": "[parameters('planId')]",
        "httpsOnly": true,
        "keyVaultReferenceIdentity": "SystemAssigned",
        "siteConfig": {
          "minTlsVersion": "1.2",
          "ftpsState": "Disabled",
          "appSettings": [
            { "name": "DB_CONNECTION", "value": "@Microsoft.KeyVault(SecretUri=https://%s.vault.azure.net/secrets/db-connection/)" },
            { "name": "API_KEY", "value": "@Microsoft.KeyVault(VaultName=%s;SecretName=api-key)" },
            { "name": "APPLICATIONINSIGHTS_CONNECTION_STRING", "value": "[reference(resourceId('Microsoft.Insights/components', parameters('appName')), '2020-02-02').ConnectionString]" },
            { "name": "WEBSITE_RUN_FROM_PACKAGE", "value": "1" },
            { "name": "AZURE_CLIENT_ID", "value": "%s" }
          ],
          "connectionStrings": [
            { "name": "Default", "connectionString": "Server=tcp:sql-%s.database.windows.net,1433;Database=app;Authentication=Active Directory Managed Identity;", "type": "SQLAzure" }
          ]
        }
      }
    },
    {
      "type": "Microsoft.Resources/deployments",
      "apiVersion": "2022-09-01",
      "name": "[format('sql-{0}', uniqueString(resourceGroup().id))]",
      "properties": {
        "mode": "Incremental",
        "expressionEvaluationOptions": { "scope": "inner" },
        "parameters": {
          "administratorLoginPassword": { "value": "[parameters('sqlAdministratorLoginPassword')]" },
          "serverName": { "value": "[format('sql-{0}', parameters('appName'))]" }
        },
        "template": {
          "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
          "contentVersion": "1.0.0.0",
          "parameters": { "administratorLoginPassword": { "type": "securestring" }, "serverName": { "type": "string" } },
          "resources": [
            {
              "type": "Microsoft.Sql/servers",
              "apiVersion": "2023-05-01-preview",
              "name": "[parameters('serverName')]",
              "location": "[resourceGroup().location]",
              "properties": { "administratorLogin": "sqladmin", "administratorLoginPassword": "[parameters('administratorLoginPassword')]", "minimalTlsVersion": "1.2" }
            }
          ]
        }
      }
    }
  ],
  "outputs": {
    "hostName": { "type": "string", "value": "[reference(resourceId('Microsoft.Web/sites', parameters('appName')), '2023-01-01').defaultHostName]" }
  }
}
`, kv, kv, kv, g.guid(), g.word())
}

// armParams is a parameters file for one of the templates, secrets as Key Vault references.
func (g *gen) armParams(secret string) string {
	return fmt.Sprintf(`{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
  "contentVersion": "1.0.0.0",
  "parameters": {
    "%s": {
      "reference": {
        "keyVault": { "id": "%s" },
        "secretName": "%s-%s",
        "secretVersion": "%s"
      }
    },
    "storageAccountName": { "value": "st%s%03d" },
    "appName": { "value": "%s" },
    "planId": { "value": "/subscriptions/%s/resourceGroups/rg-web/providers/Microsoft.Web/serverfarms/plan-%s" },
    "tags": { "value": { "environment": "%s", "managedBy": "pipeline" } },
    "allowSharedKeyAccess": { "value": false },
    "vmSize": { "value": "Standard_D2s_v5" }
  }
}
`, secret, g.vaultID(), g.word(), "secret", g.hex(32), g.word(), g.r.IntN(1000), g.name("app"), g.guid(), g.word(), g.pick(g.env...))
}

// bicepModule is an Azure Verified Modules style resource module.
func (g *gen) bicepModule() string {
	return fmt.Sprintf(`metadata name = 'Key Vaults'
metadata description = 'This module deploys a Key Vault.'

@description('Required. Name of the Key Vault. Must be globally unique.')
@maxLength(24)
param name string

@description('Optional. Location for all resources.')
param location string = resourceGroup().location

@description('Optional. All access policies to create.')
param accessPolicies accessPoliciesType

@description('Optional. All secrets to create.')
@secure()
param secrets object = {}

@description('Optional. All keys to create.')
param keys array = []

@description('Optional. Specifies if the vault is enabled for deployment by script or compute.')
param enableVaultForDeployment bool = false

@description('Optional. Specifies if the vault is enabled for a template deployment.')
param enableVaultForTemplateDeployment bool = true

@description('Optional. softDelete data retention days.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 90

@description('Optional. The customer managed key definition.')
param customerManagedKey customerManagedKeyType

@description('Optional. Array of role assignments to create.')
param roleAssignments roleAssignmentType

@description('Optional. The lock settings of the service.')
param lock lockType

@description('Optional. Enable/Disable usage telemetry for module.')
param enableTelemetry bool = true

@description('Optional. Resource tags.')
param tags object?

var builtInRoleNames = {
  'Key Vault Administrator': subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '00482a5a-887f-4fb3-b363-3b7fe8e74483')
  'Key Vault Secrets User': subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')
  Reader: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'acdd72a7-3385-48ef-bd42-f606fba81ae7')
}

resource avmTelemetry 'Microsoft.Resources/deployments@2024-03-01' = if (enableTelemetry) {
  name: '46d3xbcp.res.keyvault-vault.%s.${substring(uniqueString(deployment().name, location), 0, 4)}'
  properties: {
    mode: 'Incremental'
    template: {
      '$schema': 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#'
      contentVersion: '1.0.0.0'
      resources: []
      outputs: { telemetry: { type: 'String', value: 'For more information, see https://aka.ms/avm/TelemetryInfo' } }
    }
  }
}

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    enabledForDeployment: enableVaultForDeployment
    enabledForTemplateDeployment: enableVaultForTemplateDeployment
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: true
    tenantId: subscription().tenantId
    sku: { name: 'premium', family: 'A' }
    networkAcls: { bypass: 'AzureServices', defaultAction: 'Deny' }
    accessPolicies: [for policy in (accessPolicies ?? []): {
      tenantId: tenant().tenantId
      objectId: policy.objectId
      permissions: policy.permissions
    }]
  }
}

resource keyVault_secrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for secret in items(secrets): {
  parent: keyVault
  name: secret.key
  properties: {
    value: secret.value.value
    contentType: secret.value.?contentType
    attributes: { enabled: true, exp: secret.value.?attributesExp }
  }
}]

resource keyVault_keys 'Microsoft.KeyVault/vaults/keys@2023-07-01' = [for key in keys: {
  parent: keyVault
  name: key.name
  properties: {
    kty: key.?kty ?? 'RSA'
    keySize: key.?keySize ?? 4096
    keyOps: [ 'encrypt', 'decrypt', 'wrapKey', 'unwrapKey' ]
    rotationPolicy: { attributes: { expiryTime: 'P2Y' }, lifetimeActions: [ { action: { type: 'Rotate' }, trigger: { timeBeforeExpiry: 'P30D' } } ] }
  }
}]

resource keyVault_roleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (roleAssignment, index) in (roleAssignments ?? []): {
  name: roleAssignment.?name ?? guid(keyVault.id, roleAssignment.principalId, roleAssignment.roleDefinitionIdOrName)
  properties: {
    roleDefinitionId: builtInRoleNames[?roleAssignment.roleDefinitionIdOrName] ?? roleAssignment.roleDefinitionIdOrName
    principalId: roleAssignment.principalId
    principalType: roleAssignment.?principalType
  }
  scope: keyVault
}]

resource keyVault_lock 'Microsoft.Authorization/locks@2020-05-01' = if (!empty(lock ?? {}) && lock.?kind != 'None') {
  name: lock.?name ?? 'lock-${name}'
  properties: { level: lock.?kind ?? '', notes: 'Cannot delete resource or child resources.' }
  scope: keyVault
}

@description('The resource ID of the key vault.')
output resourceId string = keyVault.id

@description('The URI of the key vault.')
output uri string = keyVault.properties.vaultUri

@description('The name of the key vault.')
output name string = keyVault.name

type accessPoliciesType = {
  objectId: string
  permissions: { keys: string[]?, secrets: string[]?, certificates: string[]? }
}[]?

type customerManagedKeyType = {
  keyVaultResourceId: string
  keyName: string
  keyVersion: string?
  userAssignedIdentityResourceId: string?
}?

type roleAssignmentType = {
  name: string?
  roleDefinitionIdOrName: string
  principalId: string
  principalType: ('ServicePrincipal' | 'Group' | 'User' | 'ForeignGroup' | 'Device')?
}[]?

type lockType = {
  name: string?
  kind: ('CanNotDelete' | 'ReadOnly' | 'None')?
}?
`, g.hex(4))
}

// bicepMain wires modules with kv.getSecret(), one of them conditional.
func (g *gen) bicepMain() string {
	return fmt.Sprintf(`targetScope = 'resourceGroup'

@description('Environment name.')
param environmentName string = '%s'
param location string = resourceGroup().location
param keyVaultName string
param useSecondary bool = false

resource kv 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource kvSecondary 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: 'kv-%s-dr'
  scope: resourceGroup('%s', 'rg-dr-security')
}

module sql 'modules/sql.bicep' = {
  name: 'sql-${environmentName}'
  params: {
    location: location
    serverName: 'sql-%s-${environmentName}'
    administratorLogin: 'sqladmin'
    administratorLoginPassword: useSecondary ? kvSecondary.getSecret('sql-admin-password') : kv.getSecret('sql-admin-password')
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage-${environmentName}'
  params: {
    name: 'st%s${environmentName}'
    location: location
    roleAssignments: [
      {
        principalId: '%s'
        roleDefinitionIdOrName: 'Storage Blob Data Reader'
        principalType: 'ServicePrincipal'
      }
      {
        principalId: '%s'
        roleDefinitionIdOrName: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '%s')
      }
    ]
    customerManagedKey: {
      keyVaultResourceId: kv.id
      keyName: 'cmk-storage'
      keyVersion: '%s'
    }
  }
}

output sqlFqdn string = sql.outputs.fullyQualifiedDomainName
output storageId string = storage.outputs.resourceId
`, g.pick(g.env...), g.word(), g.guid(), g.word(), g.word(), g.guid(), g.guid(), roleIDs[g.r.IntN(len(roleIDs))], g.hex(32))
}

func (g *gen) bicepSQL() string {
	return `@description('Azure region.')
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
  identity: { type: 'SystemAssigned' }
  properties: {
    administratorLogin: administratorLogin
    administratorLoginPassword: administratorLoginPassword
    minimalTlsVersion: '1.2'
    publicNetworkAccess: 'Disabled'
  }
}

output fullyQualifiedDomainName string = server.properties.fullyQualifiedDomainName
`
}

func (g *gen) bicepParam() string {
	return fmt.Sprintf(`using './main.bicep'

param environmentName = '%s'
param keyVaultName = 'kv-%s-%s'
param useSecondary = %v
`, g.pick(g.env...), g.word(), g.pick(g.env...), g.r.IntN(2) == 0)
}

func (g *gen) bicepAppParam() string {
	return fmt.Sprintf(`using './app.bicep'

param appName = '%s'
param databaseConnectionString = az.getSecret('%s', 'rg-%s-security', 'kv-%s-prod', 'db-connection-string')
param apiToken = readEnvironmentVariable('API_TOKEN')
`, g.name("app"), g.guid(), g.word(), g.word())
}

func (g *gen) bicepApp() string {
	return `param location string = resourceGroup().location
param appName string

@secure()
param databaseConnectionString string

@secure()
param apiToken string

resource app 'Microsoft.Web/sites@2023-01-01' = {
  name: appName
  location: location
  properties: {
    siteConfig: {
      appSettings: [
        { name: 'DB_CONNECTION', value: databaseConnectionString }
        { name: 'API_TOKEN', value: apiToken }
      ]
    }
  }
}
`
}

// terraform is an azurerm configuration whose secrets come from Key Vault data sources.
func (g *gen) terraform() string {
	return fmt.Sprintf(`terraform {
  required_version = ">= 1.6"
  required_providers {
    azurerm = { source = "hashicorp/azurerm", version = "~> 3.110" }
    random  = { source = "hashicorp/random", version = "~> 3.6" }
  }
  backend "azurerm" {
    resource_group_name  = "rg-tfstate"
    storage_account_name = "sttfstate%03d"
    container_name       = "tfstate"
    key                  = "%s.terraform.tfstate"
    use_azuread_auth     = true
  }
}

provider "azurerm" {
  features {}
  subscription_id = "%s"
  use_oidc        = true
}

variable "environment" {
  type    = string
  default = "%s"
}

variable "sql_admin_password" {
  type      = string
  sensitive = true
}

variable "key_vault_name" {
  type        = string
  description = "Name of the Key Vault holding application secrets."
}

variable "secret_rotation_days" {
  type    = number
  default = 90
}

data "azurerm_client_config" "current" {}

data "azurerm_key_vault" "app" {
  name                = var.key_vault_name
  resource_group_name = "rg-%s-security"
}

data "azurerm_key_vault_secret" "api_key" {
  name         = "api-key"
  key_vault_id = data.azurerm_key_vault.app.id
}

resource "random_password" "sql" {
  length           = 32
  special          = true
  override_special = "!#$%%&*()-_=+[]{}<>:?"
}

resource "azurerm_key_vault_secret" "sql" {
  name            = "sql-admin-password"
  value           = random_password.sql.result
  key_vault_id    = data.azurerm_key_vault.app.id
  content_type    = "password"
  expiration_date = timeadd(timestamp(), "%dh")
  lifecycle { ignore_changes = [expiration_date] }
}

resource "azurerm_key_vault_key" "cmk" {
  name         = "cmk-%s"
  key_vault_id = data.azurerm_key_vault.app.id
  key_type     = "RSA-HSM"
  key_size     = 3072
  key_opts     = ["unwrapKey", "wrapKey"]
  rotation_policy {
    automatic { time_before_expiry = "P30D" }
    expire_after = "P1Y"
  }
}

resource "azurerm_role_assignment" "reader" {
  scope              = data.azurerm_key_vault.app.id
  role_definition_id = "/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s"
  principal_id       = "%s"
}

resource "azurerm_mssql_server" "sql" {
  name                         = "sql-%s-${var.environment}"
  resource_group_name          = "rg-%s"
  location                     = "westeurope"
  version                      = "12.0"
  administrator_login          = "sqladmin"
  administrator_login_password = random_password.sql.result
  minimum_tls_version          = "1.2"
  azuread_administrator {
    login_username = "sql-admins"
    object_id      = "%s"
  }
}

resource "azurerm_linux_function_app" "fn" {
  name                       = "func-%s-${var.environment}"
  resource_group_name        = "rg-%s"
  location                   = "westeurope"
  service_plan_id            = "/subscriptions/%s/resourceGroups/rg-plans/providers/Microsoft.Web/serverFarms/plan-%s"
  storage_account_name       = "stfn%03d"
  storage_uses_managed_identity = true
  identity { type = "SystemAssigned" }
  site_config {}
  app_settings = {
    "API_KEY"          = "@Microsoft.KeyVault(SecretUri=${data.azurerm_key_vault_secret.api_key.versionless_id})"
    "SQL_PASSWORD"     = "@Microsoft.KeyVault(VaultName=${var.key_vault_name};SecretName=sql-admin-password)"
    "FUNCTIONS_WORKER_RUNTIME" = "dotnet-isolated"
  }
  connection_string {
    name  = "Default"
    type  = "SQLAzure"
    value = "Server=tcp:${azurerm_mssql_server.sql.fully_qualified_domain_name};Database=app;Authentication=Active Directory Managed Identity;"
  }
}

output "sql_server_fqdn" {
  value = azurerm_mssql_server.sql.fully_qualified_domain_name
}

output "sql_admin_password" {
  value     = random_password.sql.result
  sensitive = true
}
`, g.r.IntN(1000), g.word(), g.guid(), g.pick(g.env...), g.word(), 24*(30+g.r.IntN(300)), g.word(), g.guid(), roleIDs[g.r.IntN(len(roleIDs))], g.guid(), g.word(), g.word(), g.guid(), g.word(), g.word(), g.guid(), g.word(), g.r.IntN(1000))
}

func (g *gen) tfvars() string {
	return fmt.Sprintf(`environment     = "%s"
key_vault_name  = "kv-%s-%s"
secret_rotation_days = %d
tags = {
  owner      = "platform-team"
  costCenter = "%d"
}
`, g.pick(g.env...), g.word(), g.pick(g.env...), 30+g.r.IntN(300), 1000+g.r.IntN(9000))
}

// pipeline is a multi-stage Azure Pipelines file that takes every secret from Key Vault.
func (g *gen) pipeline(templates []string, prefix string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `trigger:
  branches:
    include: [ main, release/* ]
pr: none

variables:
  - group: %s-keyvault
  - name: location
    value: westeurope
  - name: serviceConnection
    value: sc-%s-%s
  - name: buildConfiguration
    value: Release

stages:
`, g.word(), g.word(), g.pick(g.env...))
	for i, env := range g.env {
		fmt.Fprintf(&b, `  - stage: deploy_%s
    dependsOn: [ %s ]
    variables:
      - name: resourceGroup
        value: rg-%s-%s
    jobs:
      - deployment: infra_%s
        environment: %s
        strategy:
          runOnce:
            deploy:
              steps:
                - checkout: self
                - task: AzureKeyVault@2
                  displayName: Read secrets
                  inputs:
                    azureSubscription: $(serviceConnection)
                    KeyVaultName: kv-%s-%s
                    SecretsFilter: 'sql-admin-password,api-key'
                    RunAsPreJob: false
`, env, prevStage(i, g.env), g.word(), env, env, env, g.word(), env)
		for j, tpl := range templates {
			if j > 2 {
				break
			}
			fmt.Fprintf(&b, `                - task: AzureResourceManagerTemplateDeployment@3
                  displayName: Deploy %s
                  inputs:
                    deploymentScope: Resource Group
                    azureResourceManagerConnection: $(serviceConnection)
                    subscriptionId: %s
                    resourceGroupName: $(resourceGroup)
                    location: $(location)
                    csmFile: $(Build.SourcesDirectory)/%s%s
                    overrideParameters: >-
                      -location $(location)
                      -sqlAdministratorLoginPassword $(sql-admin-password)
                      -adminPasswordOrKey "$(vm-admin-password)"
                    deploymentMode: Incremental
`, tpl, g.guid(), prefix, tpl)
		}
		fmt.Fprintf(&b, `                - task: AzureCLI@2
                  displayName: Deploy Bicep
                  inputs:
                    azureSubscription: $(serviceConnection)
                    scriptType: bash
                    scriptLocation: inlineScript
                    inlineScript: |
                      az deployment group create \
                        --resource-group "$(resourceGroup)" \
                        --template-file %sinfra/bicep/main.bicep \
                        --parameters %sinfra/bicep/main.bicepparam \
                        --parameters administratorLoginPassword="$SQL_PASSWORD" environmentName=%s
                  env:
                    SQL_PASSWORD: $(sql-admin-password)
                    ARM_CLIENT_ID: %s
                - script: dotnet test --configuration $(buildConfiguration)
                  env:
                    ConnectionStrings__Default: $(db-connection)
                    API_KEY: $(api-key)
`, prefix, prefix, env, g.guid())
	}
	return b.String()
}

func prevStage(i int, envs []string) string {
	if i == 0 {
		return ""
	}
	return "deploy_" + envs[i-1]
}

// appSettings is application configuration using Key Vault references.
func (g *gen) appSettings() string {
	return fmt.Sprintf(`{
  "Logging": { "LogLevel": { "Default": "Information", "Microsoft.AspNetCore": "Warning" } },
  "AllowedHosts": "*",
  "ConnectionStrings": {
    "Default": "Server=tcp:sql-%s.database.windows.net,1433;Database=app;Authentication=Active Directory Default;Encrypt=True;",
    "Redis": "redis-%s.redis.cache.windows.net:6380,ssl=True,abortConnect=False"
  },
  "KeyVault": { "VaultUri": "https://kv-%s-prod.vault.azure.net/" },
  "AzureAd": { "Instance": "https://login.microsoftonline.com/", "TenantId": "%s", "ClientId": "%s", "ClientCredentials": [ { "SourceType": "KeyVault", "KeyVaultUrl": "https://kv-%s-prod.vault.azure.net", "KeyVaultCertificateName": "app-cert" } ] },
  "Storage": { "ServiceUri": "https://st%s.blob.core.windows.net", "Container": "uploads" },
  "Development": { "Password": "{your_password}", "ApiKey": "<api-key>" }
}
`, g.word(), g.word(), g.word(), g.guid(), g.guid(), g.word(), g.word())
}

// lockFiles are package lock files full of 64-byte base64 hashes.
func (g *gen) nugetLock(n int) string {
	var b strings.Builder
	b.WriteString("{\n  \"version\": 1,\n  \"dependencies\": {\n    \"net8.0\": {\n")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, "      \"Contoso.%s.%d\": {\n        \"type\": \"Transitive\",\n        \"resolved\": \"%d.%d.%d\",\n        \"contentHash\": \"%s\"\n      }", g.word(), i, 1+g.r.IntN(8), g.r.IntN(20), g.r.IntN(10), g.sha512())
	}
	b.WriteString("\n    }\n  }\n}\n")
	return b.String()
}

func (g *gen) npmLock(n int) string {
	var b strings.Builder
	b.WriteString("{\n  \"name\": \"web\",\n  \"lockfileVersion\": 3,\n  \"packages\": {\n")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, "    \"node_modules/%s-%d\": {\n      \"version\": \"%d.%d.%d\",\n      \"resolved\": \"https://registry.npmjs.org/%s-%d/-/%s-%d-1.0.0.tgz\",\n      \"integrity\": \"sha512-%s\"\n    }", g.word(), i, g.r.IntN(9), g.r.IntN(20), g.r.IntN(10), g.word(), i, g.word(), i, g.sha512())
	}
	b.WriteString("\n  }\n}\n")
	return b.String()
}

func (g *gen) k8s() string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %s
spec:
  replicas: 3
  selector:
    matchLabels: { app: %s }
  template:
    metadata:
      labels: { app: %s, azure.workload.identity/use: "true" }
    spec:
      serviceAccountName: %s
      containers:
        - name: app
          image: acr%s.azurecr.io/app@sha256:%s
          env:
            - name: DB_PASSWORD
              valueFrom:
                secretKeyRef: { name: app-secrets, key: db-password }
            - name: AZURE_CLIENT_ID
              value: "%s"
---
apiVersion: secrets-store.csi.x-k8s.io/v1
kind: SecretProviderClass
metadata:
  name: kv-secrets
spec:
  provider: azure
  parameters:
    keyvaultName: kv-%s-prod
    tenantId: "%s"
    objects: |
      array:
        - |
          objectName: db-password
          objectType: secret
          objectVersion: "%s"
`, g.word(), g.word(), g.word(), g.word(), g.word(), g.hex(64), g.guid(), g.word(), g.guid(), g.hex(32))
}

func (g *gen) compose() string {
	return `services:
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?set it in .env}
      POSTGRES_USER: app
  queue:
    image: rabbitmq:3-management
    environment:
      RABBITMQ_URL: amqp://guest:guest@localhost:5672
  app:
    build: .
    environment:
      DATABASE_URL: postgres://app:${POSTGRES_PASSWORD}@db:5432/app
      REDIS_URL: redis://redis:6379
`
}

// armCompiled is what Bicep commits next to a module (main.json, as Azure Verified Modules do):
// a languageVersion 2.0 template with symbolic resources, user-defined types and inner-scope
// nested deployments carrying whole inline templates. It is the bulk of JSON in such repos.
func (g *gen) armCompiled() string {
	var params, nested []string
	for i := 0; i < 12; i++ {
		params = append(params, fmt.Sprintf(`    "setting%02d": {
      "type": "string",
      "defaultValue": "%s",
      "metadata": { "description": "Optional. Setting %d of the %s module; see https://learn.microsoft.com/azure/templates for the allowed values." }
    }`, i, g.word(), i, g.word()))
	}
	for i := 0; i < 3; i++ {
		inline := g.armStorage()
		if i == 1 {
			inline = g.armWebApp()
		}
		nested = append(nested, fmt.Sprintf(`    "module%d": {
      "type": "Microsoft.Resources/deployments",
      "apiVersion": "2022-09-01",
      "name": "[format('{0}-module%d', deployment().name)]",
      "properties": {
        "expressionEvaluationOptions": { "scope": "inner" },
        "mode": "Incremental",
        "parameters": {
          "storageAccountName": { "value": "[parameters('setting00')]" },
          "keyVaultResourceId": { "value": "[resourceId('Microsoft.KeyVault/vaults', parameters('name'))]" },
          "appName": { "value": "[parameters('setting01')]" },
          "planId": { "value": "[parameters('setting02')]" },
          "sqlAdministratorLoginPassword": { "reference": { "keyVault": { "id": "[resourceId('Microsoft.KeyVault/vaults', parameters('name'))]" }, "secretName": "sql-admin-password" } }
        },
        "template": %s
      },
      "dependsOn": [ "keyVault" ]
    }`, i, i, strings.TrimSpace(inline)))
	}
	return fmt.Sprintf(`{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "languageVersion": "2.0",
  "contentVersion": "1.0.0.0",
  "metadata": {
    "_generator": { "name": "bicep", "version": "0.30.23.60470", "templateHash": "%d" },
    "name": "Key Vaults",
    "description": "This module deploys a Key Vault and its dependent resources."
  },
  "definitions": {
    "roleAssignmentType": {
      "type": "array",
      "items": {
        "type": "object",
        "properties": {
          "name": { "type": "string", "nullable": true },
          "roleDefinitionIdOrName": { "type": "string" },
          "principalId": { "type": "string" },
          "principalType": { "type": "string", "allowedValues": [ "Device", "ForeignGroup", "Group", "ServicePrincipal", "User" ], "nullable": true }
        }
      },
      "nullable": true
    },
    "customerManagedKeyType": {
      "type": "object",
      "properties": {
        "keyVaultResourceId": { "type": "string" },
        "keyName": { "type": "string" },
        "keyVersion": { "type": "string", "nullable": true }
      },
      "nullable": true
    }
  },
  "parameters": {
    "name": { "type": "string", "maxLength": 24, "metadata": { "description": "Required. Name of the Key Vault." } },
    "location": { "type": "string", "defaultValue": "[resourceGroup().location]" },
    "secrets": { "type": "secureObject", "defaultValue": {} },
    "roleAssignments": { "$ref": "#/definitions/roleAssignmentType" },
    "customerManagedKey": { "$ref": "#/definitions/customerManagedKeyType" },
%s
  },
  "variables": {
    "builtInRoleNames": {
      "Key Vault Administrator": "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '00482a5a-887f-4fb3-b363-3b7fe8e74483')]",
      "Key Vault Secrets User": "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')]",
      "Reader": "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'acdd72a7-3385-48ef-bd42-f606fba81ae7')]"
    }
  },
  "resources": {
    "keyVault": {
      "type": "Microsoft.KeyVault/vaults",
      "apiVersion": "2023-07-01",
      "name": "[parameters('name')]",
      "location": "[parameters('location')]",
      "properties": {
        "enableRbacAuthorization": true,
        "enablePurgeProtection": true,
        "tenantId": "[subscription().tenantId]",
        "sku": { "name": "premium", "family": "A" }
      }
    },
    "keyVault_secrets": {
      "copy": { "name": "keyVault_secrets", "count": "[length(items(parameters('secrets')))]" },
      "type": "Microsoft.KeyVault/vaults/secrets",
      "apiVersion": "2023-07-01",
      "name": "[format('{0}/{1}', parameters('name'), items(parameters('secrets'))[copyIndex()].key)]",
      "properties": { "value": "[items(parameters('secrets'))[copyIndex()].value.value]" },
      "dependsOn": [ "keyVault" ]
    },
    "keyVault_roleAssignments": {
      "copy": { "name": "keyVault_roleAssignments", "count": "[length(coalesce(parameters('roleAssignments'), createArray()))]" },
      "type": "Microsoft.Authorization/roleAssignments",
      "apiVersion": "2022-04-01",
      "scope": "[format('Microsoft.KeyVault/vaults/{0}', parameters('name'))]",
      "name": "[coalesce(tryGet(coalesce(parameters('roleAssignments'), createArray())[copyIndex()], 'name'), guid(resourceId('Microsoft.KeyVault/vaults', parameters('name')), coalesce(parameters('roleAssignments'), createArray())[copyIndex()].principalId))]",
      "properties": {
        "roleDefinitionId": "[coalesce(tryGet(variables('builtInRoleNames'), coalesce(parameters('roleAssignments'), createArray())[copyIndex()].roleDefinitionIdOrName), coalesce(parameters('roleAssignments'), createArray())[copyIndex()].roleDefinitionIdOrName)]",
        "principalId": "[coalesce(parameters('roleAssignments'), createArray())[copyIndex()].principalId]"
      },
      "dependsOn": [ "keyVault" ]
    },
%s
  },
  "outputs": {
    "resourceId": { "type": "string", "value": "[resourceId('Microsoft.KeyVault/vaults', parameters('name'))]" },
    "uri": { "type": "string", "value": "[reference('keyVault').vaultUri]" }
  }
}
`, g.r.Uint64(), strings.Join(params, ",\n"), strings.Join(nested, ",\n"))
}

// File is one generated file.
type File struct {
	Path    string
	Content string
}

// CleanCorpus returns a set of realistic, well-kept files (one project per seed): ARM templates
// with role assignments and customer-managed keys, parameters files with Key Vault references
// and pinned versions, AVM-style Bicep modules, Terraform azurerm configurations, multi-stage
// pipelines, application settings, Kubernetes manifests and package lock files. The gate must
// report nothing on them.
//
// prefix (empty, or a folder ending in "/") is prepended to every path, and to the paths the
// pipeline deploys, so several projects can share one root as in a monorepo.
func CleanCorpus(seed uint64, prefix string) []File {
	g := newGen(seed)
	armTemplates := []string{"infra/arm/storage.json", "infra/arm/vm.json", "infra/arm/webapp.json"}
	files := []File{
		{armTemplates[0], g.armStorage()},
		{"infra/arm/storage.parameters.json", g.armParams("keyVaultResourceId")},
		{armTemplates[1], g.armVM()},
		{"infra/arm/vm.parameters.json", g.armParams("adminPasswordOrKey")},
		{"infra/arm/vm.parameters.prod.json", g.armParams("adminPasswordOrKey")},
		{armTemplates[2], g.armWebApp()},
		{"infra/arm/webapp.parameters.json", g.armParams("sqlAdministratorLoginPassword")},
		{"infra/bicep/modules/key-vault/main.bicep", g.bicepModule()},
		{"infra/bicep/modules/key-vault/main.json", g.armCompiled()},
		{"infra/bicep/modules/sql.bicep", g.bicepSQL()},
		{"infra/bicep/modules/storage.bicep", g.bicepStorageModule()},
		{"infra/bicep/main.bicep", g.bicepMain()},
		{"infra/bicep/main.bicepparam", g.bicepParam()},
		{"infra/bicep/app.bicep", g.bicepApp()},
		{"infra/bicep/app.prod.bicepparam", g.bicepAppParam()},
		{"infra/terraform/main.tf", g.terraform()},
		{"infra/terraform/prod.tfvars", g.tfvars()},
		{"pipelines/deploy.yml", g.pipeline(armTemplates, prefix)},
		{"src/App/appsettings.json", g.appSettings()},
		{"src/App/packages.lock.json", g.nugetLock(120)},
		{"web/package-lock.json", g.npmLock(400)},
		{"k8s/deployment.yaml", g.k8s()},
		{"docker-compose.yml", g.compose()},
	}
	for i := range files {
		files[i].Path = prefix + files[i].Path
	}
	return files
}

func (g *gen) bicepStorageModule() string {
	return `param name string
param location string = resourceGroup().location
param roleAssignments array = []
param customerManagedKey object?

var builtInRoleNames = {
  'Storage Blob Data Reader': subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1')
}

resource st 'Microsoft.Storage/storageAccounts@2023-01-01' = {
  name: name
  location: location
  kind: 'StorageV2'
  sku: { name: 'Standard_ZRS' }
  properties: {
    allowSharedKeyAccess: false
    minimumTlsVersion: 'TLS1_2'
    encryption: customerManagedKey != null ? {
      keySource: 'Microsoft.Keyvault'
      keyvaultproperties: {
        keyname: customerManagedKey!.keyName
        keyversion: customerManagedKey!.keyVersion
        keyvaulturi: reference(customerManagedKey!.keyVaultResourceId, '2023-07-01').vaultUri
      }
    } : { keySource: 'Microsoft.Storage' }
  }
}

resource roles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for ra in roleAssignments: {
  name: guid(st.id, ra.principalId, ra.roleDefinitionIdOrName)
  scope: st
  properties: {
    roleDefinitionId: builtInRoleNames[?ra.roleDefinitionIdOrName] ?? ra.roleDefinitionIdOrName
    principalId: ra.principalId
  }
}]

output resourceId string = st.id
`
}

// WriteFiles writes files under dir.
func WriteFiles(dir string, files []File) (int64, error) {
	var n int64
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return n, err
		}
		if err := os.WriteFile(p, []byte(f.Content), 0o644); err != nil {
			return n, err
		}
		n += int64(len(f.Content))
	}
	return n, nil
}

// TreeStats describes a generated tree.
type TreeStats struct {
	Files int
	Bytes int64
	// Findings is the number of findings the planted bad files must produce.
	Findings int
}

// GenerateTree writes a tree of at least targetBytes of mixed, realistic templates under dir,
// for throughput benchmarks: copies of the clean corpus (one project per folder, each with its
// own seed) plus, when withFindings is set, one badly kept project per 25 folders whose planted
// literals and canary credentials produce exactly TreeStats.Findings findings.
func GenerateTree(dir string, targetBytes int64, seed uint64, withFindings bool) (TreeStats, error) {
	var st TreeStats
	for i := 0; st.Bytes < targetBytes; i++ {
		prefix := fmt.Sprintf("project-%04d/", i)
		files := CleanCorpus(seed+uint64(i), prefix)
		if withFindings && i%25 == 0 {
			bad, n := BadProject(seed + uint64(i))
			for _, b := range bad {
				b.Path = prefix + b.Path
				files = append(files, b)
			}
			st.Findings += n
		}
		n, err := WriteFiles(dir, files)
		if err != nil {
			return st, err
		}
		st.Files += len(files)
		st.Bytes += n
	}
	return st, nil
}

// BadProject returns badly kept files and how many findings they must produce: one per rule
// KV001-KV011 plus KV009 canaries.
func BadProject(seed uint64) ([]File, int) {
	c := NewCanaries(seed)
	files := []File{
		{"bad/app.json", `{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "parameters": {
    "adminPassword": { "type": "securestring", "defaultValue": "` + c.PlainPassword + `" },
    "apiSecret": { "type": "string" }
  },
  "resources": [
    { "type": "Microsoft.Sql/servers", "apiVersion": "2023-05-01-preview", "name": "sql", "properties": { "administratorLoginPassword": "` + c.PlainPassword + `" } },
    { "type": "Microsoft.Compute/virtualMachines/extensions", "apiVersion": "2023-09-01", "name": "vm/x", "properties": { "settings": { "commandToExecute": "[concat('sh x.sh ', parameters('adminPassword'))]" } } },
    { "type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "n", "properties": { "mode": "Incremental", "template": { "$schema": "x", "contentVersion": "1.0.0.0", "resources": [], "outputs": { "o": { "type": "string", "value": "[parameters('adminPassword')]" } } } } }
  ],
  "outputs": { "adminPassword": { "type": "string", "value": "[parameters('apiSecret')]" } }
}
`},
		{"bad/app.parameters.json", `{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
  "contentVersion": "1.0.0.0",
  "parameters": {
    "adminPassword": { "value": "` + c.PlainPassword + `" },
    "apiSecret": { "reference": { "keyVault": { "id": "/subscriptions/not-a-guid/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-app" }, "secretName": "api-secret" } }
  }
}
`},
		{"bad/main.tf", "resource \"azurerm_mssql_server\" \"s\" {\n  administrator_login_password = \"" + c.PlainPassword + "\"\n}\n"},
		{"bad/pipeline.yml", "variables:\n  dbPassword: '" + c.PlainPassword + "'\nsteps:\n  - script: ./x.sh\n"},
		{"bad/appsettings.json", `{ "Storage": "DefaultEndpointsProtocol=https;AccountName=stapp;AccountKey=` + c.StorageKey + `;EndpointSuffix=core.windows.net", "Sas": "` + c.SASURL + `" }` + "\n"},
	}
	// KV002, KV003, KV007, KV005, KV006, KV004 x2, KV001, KV008, KV010, KV011, KV009 x2.
	return files, 13
}
