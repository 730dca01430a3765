package rules

import "testing"

func TestTerraformRules(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "KV010 arguments", files: map[string]string{"main.tf": `
provider "azurerm" {
  features {}
  client_id     = "00000000-0000-0000-0000-000000000000"
  client_secret = "{{password}}" # <-KV010
}

resource "random_password" "sql" {
  length  = 24
  special = true
}

resource "azurerm_mssql_server" "a" {
  name                         = "sql-a"
  administrator_login          = "sqladmin"
  administrator_login_password = "{{password}}" # <-KV010
}

resource "azurerm_mssql_server" "b" {
  name                         = "sql-b"
  administrator_login          = "sqladmin"
  administrator_login_password = random_password.sql.result
}

resource "azurerm_mssql_server" "c" {
  name                         = "sql-c"
  administrator_login_password = data.azurerm_key_vault_secret.sql.value
}

resource "azurerm_key_vault_secret" "literal" {
  name         = "db-password"
  value        = "{{password}}" # <-KV010
  key_vault_id = azurerm_key_vault.kv.id
}

resource "azurerm_key_vault_secret" "generated" {
  name         = "db-password-generated"
  value        = random_password.sql.result
  key_vault_id = azurerm_key_vault.kv.id
}

resource "azurerm_linux_web_app" "app" {
  name = "app"
  app_settings = {
    "DB_PASSWORD"              = "{{password}}" # <-KV010
    "API_KEY"                  = "@Microsoft.KeyVault(SecretUri=https://kv-app.vault.azure.net/secrets/api-key/)"
    "WEBSITE_RUN_FROM_PACKAGE" = "1"
    "TOKEN_FROM_VAR"           = var.api_token
  }
  connection_string {
    name  = "Database"
    type  = "SQLAzure"
    value = "Server=tcp:sql-a.database.windows.net;Database=app;User ID=app;Password={{password}};" # <-KV010
  }
  connection_string {
    name  = "Reporting"
    type  = "SQLAzure"
    value = "Server=tcp:sql-a.database.windows.net;Database=app;Authentication=Active Directory Managed Identity;"
  }
}

resource "azurerm_container_group" "aci" {
  name = "aci"
  container {
    name = "app"
    secure_environment_variables = {
      MODE = "{{password}}" # <-KV010
    }
    environment_variables = {
      MODE = "production"
    }
  }
}

resource "azurerm_app_configuration_key" "k" {
  key   = "app:feature:enabled"
  value = "true"
}

module "db" {
  source         = "./modules/db"
  admin_password = "{{password}}" # <-KV010
  admin_login    = "dbadmin"
}

locals {
  db_password = "{{password}}" # <-KV010
  secret_name = "db-password"
}
`}},
		{name: "KV010 variables", files: map[string]string{"variables.tf": `
variable "db_password" { # <-KV010
  type = string
}

variable "api_token" {
  type      = string
  sensitive = true
}

variable "client_secret" {
  type      = string
  sensitive = false # <-KV010
}

variable "admin_password" {
  type      = string
  sensitive = true
  default   = "{{password}}" # <-KV010
}

variable "sql_password" {
  type      = string
  sensitive = true
  default   = ""
}

variable "password_length" {
  type    = number
  default = 24
}

variable "enable_secret_rotation" {
  type    = bool
  default = true
}

variable "key_vault_name" {
  type = string
}

variable "storage_keys" {
  type = list(string)
}
`}},
		{name: "KV010 tfvars", files: map[string]string{"dev.tfvars": `
location       = "westeurope"
admin_password = "{{password}}" # <-KV010
api_token      = ""
client_secret  = "__ClientSecret__"
db = {
  name     = "app"
  password = "{{password}}" # <-KV010
}
`}},
		{name: "KV004 outputs", files: map[string]string{"outputs.tf": `
output "admin_password" { # <-KV004
  value = random_password.sql.result
}

output "sql_password" {
  value     = random_password.sql.result
  sensitive = true
}

output "fqdn" {
  value = azurerm_mssql_server.a.fully_qualified_domain_name
}
`}},
		{name: "KV008 data sources", allow: []string{"kv-app"}, files: map[string]string{"data.tf": `
data "azurerm_key_vault" "app" {
  name                = "kv-app"
  resource_group_name = "rg"
}

data "azurerm_key_vault" "rogue" {
  name                = "kv-rogue"
  resource_group_name = "rg"
}

data "azurerm_key_vault_secret" "ok" {
  name         = "db-password"
  key_vault_id = data.azurerm_key_vault.app.id
}

data "azurerm_key_vault_secret" "bad_name" {
  name         = "db_password" # <-KV008
  key_vault_id = data.azurerm_key_vault.app.id
}

data "azurerm_key_vault_secret" "rogue" {
  name         = "x"
  key_vault_id = data.azurerm_key_vault.rogue.id # <-KV008
}

data "azurerm_key_vault_secret" "by_id" {
  name         = "x"
  key_vault_id = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-app"
}

data "azurerm_key_vault_secret" "bad_id" {
  name         = "x"
  key_vault_id = "/subscriptions/prod/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-app" # <-KV008
}

data "azurerm_key_vault_secret" "remote" {
  name         = "x"
  key_vault_id = var.key_vault_id # <-KV008:warning
}

data "azurerm_key_vault_secret" "incomplete" { # <-KV008
  name = "x"
}
`}},
	})
}
