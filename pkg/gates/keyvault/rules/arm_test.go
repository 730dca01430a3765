package rules

import "testing"

func TestARMTemplateRules(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "KV002 secure defaults", files: map[string]string{"t.json": armHead + `
  "parameters": {
    "literalDefault": { "type": "securestring", "defaultValue": "Summer2023!" }, // <-KV002
    "derivedDefault": { "type": "securestring", "defaultValue": "[concat('P', uniqueString(resourceGroup().id), '!')]" }, // <-KV002
    "objectDefault": { "type": "secureObject", "defaultValue": { "password": "x" } }, // <-KV002
    "guidDefault": { "type": "securestring", "defaultValue": "[newGuid()]" },
    "emptyDefault": { "type": "securestring", "defaultValue": "" },
    "emptyObject": { "type": "secureObject", "defaultValue": {} },
    "passThrough": { "type": "securestring", "defaultValue": "[parameters('literalDefault')]" },
    "noDefault": { "type": "SecureString" },
    "plain": { "type": "string", "defaultValue": "westeurope" }
  },
  "resources": []
}`}},
		{name: "KV003 secret names", files: map[string]string{"t.json": armHead + `
  "parameters": {
    "adminPassword": { "type": "string" }, // <-KV003
    "storageAccountKey": { "type": "String" }, // <-KV003
    "credentials": { "type": "object" }, // <-KV003
    "sasToken": { "type": "string", "defaultValue": "" }, // <-KV003
    "sqlPassword": { "type": "securestring" },
    "apiSecrets": { "type": "secureObject" },
    "passwordLength": { "type": "int", "defaultValue": 16 },
    "enableSecret": { "type": "bool" },
    "tokenList": { "type": "array" },
    "sshPublicKey": { "type": "string" },
    "keyVaultName": { "type": "string" },
    "adminPasswordSecretName": { "type": "string" },
    "customerManagedKey": { "type": "object" }
  },
  "resources": []
}`}},
		{name: "KV004 outputs", files: map[string]string{"t.json": armHead + `
  "parameters": {
    "adminPassword": { "type": "securestring" },
    "storageName": { "type": "string" }
  },
  "variables": {
    "pw": "[parameters('adminPassword')]",
    "id": "[resourceId('Microsoft.Storage/storageAccounts', parameters('storageName'))]"
  },
  "resources": [],
  "outputs": {
    "key": { "type": "string", "value": "[listKeys(variables('id'), '2023-01-01').keys[0].value]" }, // <-KV004
    "echo": { "type": "string", "value": "[parameters('adminPassword')]" }, // <-KV004
    "viaVariable": { "type": "string", "value": "[concat('x', variables('pw'))]" }, // <-KV004
    "conn": { "type": "object", "value": { "s": "[listConnectionStrings(variables('id'), '2023-01-01')]" } }, // <-KV004
    "dbPassword": { "type": "string", "value": "[parameters('storageName')]" }, // <-KV004
    "secureKey": { "type": "securestring", "value": "[listKeys(variables('id'), '2023-01-01').keys[0].value]" },
    "endpoints": { "type": "object", "value": "[reference(variables('id'), '2023-01-01').primaryEndpoints]" },
    "id": { "type": "string", "value": "[variables('id')]" }
  }
}`}},
		{name: "KV005 script extensions", files: map[string]string{"t.json": armHead + `
  "parameters": {
    "adminPassword": { "type": "securestring" },
    "dbToken": { "type": "string" }, // <-KV003
    "scriptName": { "type": "string" }
  },
  "resources": [
    {
      "type": "Microsoft.Compute/virtualMachines/extensions", "apiVersion": "2023-09-01", "name": "vm/a",
      "properties": { "settings": { "commandToExecute": "[concat('sh x.sh ', parameters('adminPassword'))]" } } // <-KV005
    },
    {
      "type": "Microsoft.Compute/virtualMachines/extensions", "apiVersion": "2023-09-01", "name": "vm/b",
      "properties": { "settings": { "commandToExecute": "[format('sh {0} {1}', parameters('scriptName'), parameters('dbToken'))]" } } // <-KV005
    },
    {
      "type": "Microsoft.Compute/virtualMachines/extensions", "apiVersion": "2023-09-01", "name": "vm/c",
      "properties": { "settings": { "commandToExecute": "[concat('sh x.sh ', listKeys(resourceId('Microsoft.Storage/storageAccounts', 'st'), '2023-01-01').keys[0].value)]" } } // <-KV005
    },
    {
      "type": "Microsoft.Compute/virtualMachines/extensions", "apiVersion": "2023-09-01", "name": "vm/ok",
      "properties": {
        "settings": { "commandToExecute": "[concat('sh ', parameters('scriptName'))]" },
        "protectedSettings": { "commandToExecute": "[concat('sh x.sh ', parameters('adminPassword'))]" }
      }
    },
    {
      "type": "Microsoft.Compute/virtualMachines", "apiVersion": "2023-09-01", "name": "vm2",
      "resources": [
        {
          "type": "extensions", "apiVersion": "2023-09-01", "name": "child",
          "properties": { "settings": { "commandToExecute": "[parameters('adminPassword')]" } } // <-KV005
        }
      ]
    },
    {
      "type": "Microsoft.Compute/virtualMachineScaleSets", "apiVersion": "2023-09-01", "name": "vmss",
      "properties": { "virtualMachineProfile": { "extensionProfile": { "extensions": [
        { "name": "e", "properties": { "settings": { "commandToExecute": "[parameters('adminPassword')]" } } } // <-KV005
      ] } } }
    },
    {
      "type": "Microsoft.Compute/virtualMachines/runCommands", "apiVersion": "2023-09-01", "name": "vm/run",
      "properties": {
        "parameters": [ { "name": "pw", "value": "[parameters('adminPassword')]" } ], // <-KV005
        "protectedParameters": [ { "name": "pw2", "value": "[parameters('adminPassword')]" } ]
      }
    }
  ]
}`}},
		{name: "KV006 nested deployments", files: map[string]string{"t.json": armHead + `
  "parameters": {
    "adminPassword": { "type": "securestring" },
    "location": { "type": "string" }
  },
  "resources": [
    {
      "type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "outerDefault",
      "properties": { "mode": "Incremental", "template": { "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", "contentVersion": "1.0.0.0",
        "resources": [ { "type": "Microsoft.Web/sites/config", "apiVersion": "2023-01-01", "name": "app/appsettings",
          "properties": { "PW": "[parameters('adminPassword')]", "LOC": "[parameters('location')]" } } ] } } // <-KV006
    },
    {
      "type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "outerExplicit",
      "properties": { "mode": "Incremental", "expressionEvaluationOptions": { "scope": "outer" }, "template": { "contentVersion": "1.0.0.0", "$schema": "x",
        "resources": [], "outputs": { "k": { "type": "string", "value": "[listKeys(resourceId('Microsoft.Storage/storageAccounts', 'st'), '2023-01-01').keys[0].value]" } } } } // <-KV006,KV004
    },
    {
      "type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "inner",
      "properties": { "mode": "Incremental", "expressionEvaluationOptions": { "scope": "inner" },
        "parameters": { "pw": { "value": "[parameters('adminPassword')]" } },
        "template": { "$schema": "x", "contentVersion": "1.0.0.0", "parameters": { "pw": { "type": "securestring" } },
          "resources": [ { "type": "Microsoft.Sql/servers", "apiVersion": "2023-05-01-preview", "name": "sql", "properties": { "administratorLoginPassword": "[parameters('pw')]" } } ] } }
    }
  ]
}`}},
		{name: "KV007 sensitive properties", files: map[string]string{"t.json": armHead + `
  "parameters": { "adminPassword": { "type": "securestring" } },
  "resources": [
    { "type": "Microsoft.Compute/virtualMachines", "apiVersion": "2023-09-01", "name": "vm",
      "properties": { "osProfile": { "adminUsername": "azureadmin", "adminPassword": "{{password}}", // <-KV007
        "linuxConfiguration": { "ssh": { "publicKeys": [ { "path": "/home/a/.ssh/authorized_keys", "keyData": "ssh-rsa AAAAB3NzaC1yc2E user" } ] } } } } },
    { "type": "Microsoft.Sql/servers", "apiVersion": "2023-05-01-preview", "name": "sql",
      "properties": { "administratorLoginPassword": "[parameters('adminPassword')]" } },
    { "type": "Microsoft.KeyVault/vaults/secrets", "apiVersion": "2023-07-01", "name": "kv/s",
      "properties": { "value": "{{password}}" } }, // <-KV007
    { "type": "Microsoft.KeyVault/vaults/secrets", "apiVersion": "2023-07-01", "name": "kv/generated",
      "properties": { "value": "[parameters('adminPassword')]" } },
    { "type": "Microsoft.Web/sites", "apiVersion": "2023-01-01", "name": "app",
      "properties": { "siteConfig": { "appSettings": [
        { "name": "DB_PASSWORD", "value": "{{password}}" }, // <-KV007
        { "name": "API_KEY", "value": "@Microsoft.KeyVault(SecretUri=https://kv-app.vault.azure.net/secrets/api-key/)" },
        { "name": "WEBSITE_RUN_FROM_PACKAGE", "value": "1" },
        { "name": "SECRET_PLACEHOLDER", "value": "<set-by-pipeline>" }
      ], "connectionStrings": [
        { "name": "db", "connectionString": "Server=tcp:sql.database.windows.net;Database=app;Authentication=Active Directory Default;", "type": "SQLAzure" }
      ] } } },
    { "type": "Microsoft.ContainerInstance/containerGroups", "apiVersion": "2023-05-01", "name": "aci",
      "properties": { "containers": [ { "name": "c", "properties": { "environmentVariables": [
        { "name": "MODE", "secureValue": "{{password}}" } ] } } ], // <-KV007
        "imageRegistryCredentials": [ { "server": "acr.azurecr.io", "username": "acr", "password": "{{password}}" } ] } }, // <-KV007
    { "type": "Microsoft.ContainerService/managedClusters", "apiVersion": "2024-01-01", "name": "aks",
      "properties": { "servicePrincipalProfile": { "clientId": "00000000-0000-0000-0000-000000000000", "secret": "{{password}}" } } }, // <-KV007
    { "type": "Microsoft.App/containerApps", "apiVersion": "2024-03-01", "name": "ca",
      "properties": { "configuration": { "secrets": [ { "name": "reg", "value": "{{password}}" }, // <-KV007
        { "name": "kvref", "keyVaultUrl": "https://kv-app.vault.azure.net/secrets/reg", "identity": "system" } ] } } },
    { "type": "Microsoft.Network/connections", "apiVersion": "2023-09-01", "name": "vpn",
      "properties": { "sharedKey": "{{password}}", "connectionType": "IPsec" } }, // <-KV007
    { "type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "st",
      "properties": { "encryption": { "keySource": "Microsoft.Storage", "requireInfrastructureEncryption": true }, "allowSharedKeyAccess": false } },
    { "type": "Microsoft.Compute/virtualMachines", "apiVersion": "2023-09-01", "name": "placeholders",
      "properties": { "osProfile": { "adminPassword": "GEN-PASSWORD" } } }
  ]
}`}},
		{name: "KV001 nested deployment literals", files: map[string]string{"t.json": armHead + `
  "resources": [
    { "type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "inner",
      "properties": { "mode": "Incremental", "expressionEvaluationOptions": { "scope": "inner" },
        "parameters": {
          "pw": { "value": "{{password}}" }, // <-KV001
          "location": { "value": "westeurope" }
        },
        "template": { "$schema": "x", "contentVersion": "1.0.0.0",
          "parameters": { "pw": { "type": "securestring" }, "location": { "type": "string" } }, "resources": [] } } },
    { "type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "linked",
      "properties": { "mode": "Incremental", "templateLink": { "uri": "https://example.com/t.json" },
        "parameters": {
          "adminPassword": { "value": "{{password}}" }, // <-KV001
          "skuName": { "value": "Standard_LRS" }
        } } }
  ]
}`}},
	})
}

func TestARMParametersRules(t *testing.T) {
	tpl := armHead + `
  "parameters": {
    "adminPassword": { "type": "securestring" },
    "settings": { "type": "secureObject" },
    "location": { "type": "string" },
    "appToken": { "type": "string" } // <-KV003
  },
  "resources": []
}`
	runCases(t, []ruleCase{
		{name: "KV001 paired by name", files: map[string]string{
			"infra/app.json": tpl,
			"infra/app.parameters.json": paramsHead + `
  "parameters": {
    "adminPassword": { "value": "{{password}}" }, // <-KV001
    "settings": { "value": { "a": "b" } }, // <-KV001
    "location": { "value": "westeurope" },
    "appToken": { "value": "not-judged-here-KV003-covers-it" }
  }
}`,
			"infra/app.parameters.prod.json": paramsHead + `
  "parameters": {
    "adminPassword": { "value": "{{password}}" } // <-KV001
  }
}`,
			"infra/app.parameters.dev.json": paramsHead + `
  "parameters": {
    "adminPassword": { "reference": { "keyVault": { "id": "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-app" }, "secretName": "admin-password" } },
    "settings": { "value": {} },
    "location": { "value": "westeurope" }
  }
}`,
			"infra/app.parameters.ci.json": paramsHead + `
  "parameters": {
    "adminPassword": { "value": "GEN-PASSWORD" },
    "settings": { "value": "" }
  }
}`}},
		{name: "KV001 unpaired judged by name", files: map[string]string{
			"orphan.parameters.json": paramsHead + `
  "parameters": {
    "sqlAdministratorLoginPassword": { "value": "{{password}}" }, // <-KV001
    "apiKey": { "value": "$(apiKey)" },
    "dbConnectionString": { "value": "Server=db;Database=app;Integrated Security=true" },
    "redisConnectionString": { "value": "redis-app.contoso.net:6380,password={{password}},ssl=True" }, // <-KV001
    "adminPassword": { "value": 12345 },
    "skuName": { "value": "S1" }
  }
}`}},
		{name: "KV001 parameters file for a Bicep template", files: map[string]string{
			"main.bicep": "@secure()\nparam adminPassword string\nparam location string\n",
			"main.parameters.json": paramsHead + `
  "parameters": {
    "adminPassword": { "value": "{{password}}" }, // <-KV001
    "location": { "value": "westeurope" }
  }
}`}},
		{name: "KV008 references", allow: []string{"kv-app", "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg-shared/providers/Microsoft.KeyVault/vaults/kv-shared"}, files: map[string]string{
			"refs.parameters.json": paramsHead + `
  "parameters": {
    "good": { "reference": { "keyVault": { "id": "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-app" }, "secretName": "db-password", "secretVersion": "0123456789abcdef0123456789abcdef" } },
    "sharedById": { "reference": { "keyVault": { "id": "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/RG-SHARED/providers/Microsoft.KeyVault/vaults/KV-SHARED" }, "secretName": "x" } },
    "badName": { "reference": { "keyVault": { "id": "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-app" },
      "secretName": "db_password" } }, // <-KV008
    "badVersion": { "reference": { "keyVault": { "id": "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-app" }, "secretName": "x",
      "secretVersion": "latest" } }, // <-KV008
    "badId": { "reference": { "keyVault": {
      "id": "/subscriptions/prod/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-app" }, "secretName": "x" } }, // <-KV008
    "noSecret": { "reference": { "keyVault": { "id": "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-app" } } }, // <-KV008
    "notAllowed": { "reference": { "keyVault": {
      "id": "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-rogue" }, "secretName": "x" } }, // <-KV008
    "sharedOtherGroup": { "reference": { "keyVault": {
      "id": "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg-other/providers/Microsoft.KeyVault/vaults/kv-shared" }, "secretName": "x" } }, // <-KV008
    "tokenised": { "reference": { "keyVault": {
      "id": "#{KeyVaultId}#" }, "secretName": "x" } } // <-KV008:warning
  }
}`}},
		{name: "KV008 nested deployment references, Bicep conditional getSecret compiled to if()", allow: []string{"kv-a", "kv-b"}, files: map[string]string{"t.json": armHead + `
  "parameters": { "useA": { "type": "bool" }, "kvName": { "type": "string" } },
  "resources": [
    { "type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "sql",
      "properties": { "mode": "Incremental", "expressionEvaluationOptions": { "scope": "inner" },
        "parameters": {
          "pw": { "reference": {
            "keyVault": { "id": "[if(parameters('useA'), resourceId('Microsoft.KeyVault/vaults', 'kv-a'), resourceId('Microsoft.KeyVault/vaults', 'kv-b'))]" },
            "secretName": "[if(parameters('useA'), 'sql-a', 'sql_b')]" } }, // <-KV008
          "pw2": { "reference": {
            "keyVault": { "id": "[if(parameters('useA'), resourceId('Microsoft.KeyVault/vaults', 'kv-a'), resourceId('00000000-1111-2222-3333-444444444444', 'rg', 'Microsoft.KeyVault/vaults', 'kv-c'))]" }, // <-KV008
            "secretName": "sql" } },
          "pw3": { "reference": {
            "keyVault": { "id": "[resourceId('Microsoft.Storage/storageAccounts', 'st')]" }, // <-KV008
            "secretName": "sql" } },
          "pw4": { "reference": {
            "keyVault": { "id": "[resourceId('Microsoft.KeyVault/vaults', parameters('kvName'))]" }, // <-KV008:warning
            "secretName": "sql" } }
        },
        "template": { "$schema": "x", "contentVersion": "1.0.0.0", "parameters": { "pw": { "type": "securestring" }, "pw2": { "type": "securestring" }, "pw3": { "type": "securestring" }, "pw4": { "type": "securestring" } }, "resources": [] } } }
  ]
}`}},
		{name: "KV008 secret URIs and App Service references", allow: []string{"kv-app"}, files: map[string]string{"t.json": armHead + `
  "resources": [
    { "type": "Microsoft.Web/sites", "apiVersion": "2023-01-01", "name": "app",
      "properties": { "siteConfig": { "appSettings": [
        { "name": "A", "value": "@Microsoft.KeyVault(SecretUri=https://kv-app.vault.azure.net/secrets/a/)" },
        { "name": "B", "value": "@Microsoft.KeyVault(VaultName=kv-app;SecretName=b)" },
        { "name": "C", "value": "@Microsoft.KeyVault(VaultName=kv-other;SecretName=c)" }, // <-KV008
        { "name": "D", "value": "@Microsoft.KeyVault(VaultName=kv-app)" }, // <-KV008
        { "name": "E", "value": "@Microsoft.KeyVault(SecretUri=https://kv-app.vault.azure.net/secrets/e/v1/extra)" } // <-KV008
      ] } } },
    { "type": "Microsoft.Network/applicationGateways", "apiVersion": "2023-09-01", "name": "agw",
      "properties": { "sslCertificates": [ { "name": "c", "properties": { "keyVaultSecretId": "https://kv-app.vault.azure.net/secrets/tls-cert" } },
        { "name": "d", "properties": { "keyVaultSecretId": "https://kv-certs.vault.azure.net/secrets/tls-cert" } } ] } } // <-KV008
  ]
}`}},
	})
}

func TestKV000(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "unparsable template", files: map[string]string{"broken.json": armHead + `
  "parameters": {
    "a": { "type": "string" }
    "b": { "type": "string" } // <-KV000
  },
  "resources": []
}`}},
		{name: "unparsable parameters file", files: map[string]string{"broken.parameters.json": paramsHead + `
  "parameters": {
    "a": { "value": "x", } },
  }
} // <-KV000
`}},
		{name: "unparsable other JSON is only scanned for credentials", files: map[string]string{"settings.json": `{ "a": 1,, }`}},
		{name: "unparsable Bicep", files: map[string]string{"main.bicep": "param a string\nresource x 'Microsoft.Storage/storageAccounts@2023-01-01' = { // <-KV000\n  name: 'x'\n  properties: {\n}\n"}},
		{name: "unparsable bicepparam", files: map[string]string{"main.bicepparam": "using './main.bicep'\nparam a = = 'x' // <-KV000\n"}},
		{name: "unparsable Terraform", files: map[string]string{"main.tf": "resource \"azurerm_resource_group\" \"rg\" {\n  name = \"rg\"\n  location = # <-KV000\n}\n"}},
		{name: "unparsable tfvars", files: map[string]string{"dev.tfvars": "a = \"x\"\nb = [\n# <-KV000"}},
		{name: "unparsable pipeline", files: map[string]string{"azure-pipelines.yml": "trigger: none\nsteps:\n  - script: echo hi # <-KV000\n    displayName: [oops\n"}},
		{name: "unparsable other YAML is only scanned for credentials", files: map[string]string{"values.yaml": "a: [b\n"}},
	})
}
