package rules

import "testing"

func TestPipelineRules(t *testing.T) {
	armTpl := armHead + `
  "parameters": {
    "adminPassword": { "type": "securestring" },
    "location": { "type": "string" }
  },
  "resources": []
}`
	runCases(t, []ruleCase{
		{name: "KV011 variables and env", files: map[string]string{"azure-pipelines.yml": `
trigger: none
variables:
  dbPassword: '{{password}}' # <-KV011
  apiToken: $(fromGroup)
  location: westeurope
  passwordLength: 24
  secretRotation: true
  ConnectionStrings__Default: 'Server=db;Database=app;Integrated Security=true'
stages:
  - stage: build
    variables:
      - name: clientSecret
        value: '{{password}}' # <-KV011
      - group: kv-linked
      - name: secretName
        value: app-secret
    jobs:
      - job: a
        variables:
          registryPassword: "{{password}}" # <-KV011
        steps:
          - script: ./run.sh
            env:
              DB_PASSWORD: '{{password}}' # <-KV011
              API_KEY: $(apiKey)
              TOKEN: ${{ variables.token }}
              MODE: production
          - bash: echo ok
            env:
              GITHUB_TOKEN: $[ variables.gh ]
`}},
		{name: "KV011 deployment overrides and az CLI", files: map[string]string{
			"infra/app.json":  armTpl,
			"infra/sql.bicep": "@secure()\nparam administratorLoginPassword string\nparam serverName string\n",
			"pipelines/deploy.yml": `
steps:
  - task: AzureResourceManagerTemplateDeployment@3
    inputs:
      csmFile: $(Build.SourcesDirectory)/infra/app.json
      overrideParameters: -location westeurope -adminPassword "{{password}}" # <-KV011
  - task: AzureResourceManagerTemplateDeployment@3
    inputs:
      csmFile: infra/app.json
      overrideParameters: -location $(location) -adminPassword $(adminPassword)
  - task: AzureResourceGroupDeployment@2
    inputs:
      csmFile: '$(System.DefaultWorkingDirectory)\infra\app.json'
      overrideParameters: >-
        -location westeurope
        -adminPassword {{password}} # <-KV011
  - task: AzureResourceManagerTemplateDeployment@3
    inputs:
      csmFile: $(Pipeline.Workspace)/drop/app.json
      overrideParameters: |
        -location westeurope
        -sqlPassword {{password}} # <-KV011
        -vmCount 3
  - task: AzureCLI@2
    inputs:
      azureSubscription: sc
      scriptType: bash
      scriptLocation: inlineScript
      inlineScript: |
        az deployment group create \
          --resource-group rg \
          --template-file infra/sql.bicep \
          --parameters serverName=sql-app administratorLoginPassword={{password}} # <-KV011
        az deployment group create -g rg -f infra/sql.bicep -p administratorLoginPassword="$SQL_PASSWORD" serverName=x
  - bash: |
      az deployment sub create --location westeurope --template-file infra/sql.bicep \
        --parameters administratorLoginPassword='{{password}}' # <-KV011
  - task: AzureResourceManagerTemplateDeployment@3
    inputs:
      templateLocation: URL of the file
      csmFileLink: https://example.com/t.json
      overrideParameters: -location westeurope
`}},
		{name: "KV001 pairing through a pipeline", files: map[string]string{
			"infra/app.json": armTpl,
			"infra/env/prod-values.json": paramsHead + `
  "parameters": {
    "adminPassword": { "value": "{{password}}" }, // <-KV001
    "location": { "value": "westeurope" }
  }
}`,
			"azure-pipelines.yml": `
steps:
  - task: AzureResourceManagerTemplateDeployment@3
    inputs:
      csmFile: infra/app.json
      csmParametersFile: infra/env/prod-values.json
`}},
		{name: "KV008 AzureKeyVault task", allow: []string{"kv-app"}, files: map[string]string{"azure-pipelines.yml": `
steps:
  - task: AzureKeyVault@2
    inputs:
      azureSubscription: sc
      KeyVaultName: kv-app
      SecretsFilter: 'db-password,api-key'
  - task: AzureKeyVault@2
    inputs:
      azureSubscription: sc
      KeyVaultName: kv-rogue # <-KV008,KV008
      SecretsFilter: 'a,b_c'
  - task: AzureKeyVault@1
    inputs:
      azureSubscription: sc
      KeyVaultName: $(kvName) # <-KV008:warning
      SecretsFilter: '*'
  - task: AzureKeyVault@2 # <-KV008
    inputs:
      azureSubscription: sc
`}},
		{name: "not a pipeline: GitHub workflow and Compose file", files: map[string]string{
			".github/workflows/ci.yml": "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    env:\n      DB_PASSWORD: literal-but-not-azure-pipelines\n    steps:\n      - run: echo hi\n",
			"docker-compose.yml":       "services:\n  db:\n    image: postgres\n    environment:\n      POSTGRES_PASSWORD: example-only\n",
		}},
	})
}
