# Well-kept: the SQL administrator password comes from Key Vault, variables holding secrets are
# sensitive, and the app reads its connection string through a Key Vault reference.
terraform {
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 3.100"
    }
  }
}

provider "azurerm" {
  features {}
  use_oidc = true
}

data "azurerm_key_vault" "shared" {
  name                = "kv-contoso-prod"
  resource_group_name = "rg-shared-security"
}

data "azurerm_key_vault_secret" "sql_admin" {
  name         = "sql-admin-password"
  key_vault_id = data.azurerm_key_vault.shared.id
}

resource "azurerm_resource_group" "app" {
  name     = "rg-contoso-app-${var.environment}"
  location = var.location
}

resource "azurerm_mssql_server" "sql" {
  name                         = "sql-contoso-${var.environment}"
  resource_group_name          = azurerm_resource_group.app.name
  location                     = azurerm_resource_group.app.location
  version                      = "12.0"
  administrator_login          = "sqladmin"
  administrator_login_password = data.azurerm_key_vault_secret.sql_admin.value
  minimum_tls_version          = "1.2"
}

resource "azurerm_role_assignment" "kv_reader" {
  scope                = data.azurerm_key_vault.shared.id
  role_definition_id   = "/providers/Microsoft.Authorization/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6"
  principal_id         = var.app_principal_id
}

resource "azurerm_linux_web_app" "app" {
  name                = "app-contoso-${var.environment}"
  resource_group_name = azurerm_resource_group.app.name
  location            = azurerm_resource_group.app.location
  service_plan_id     = var.service_plan_id

  site_config {}

  app_settings = {
    "DB_PASSWORD" = "@Microsoft.KeyVault(SecretUri=https://kv-contoso-prod.vault.azure.net/secrets/sql-admin-password/)"
    "API_TOKEN"   = var.api_token
  }
}

output "sql_server_fqdn" {
  value = azurerm_mssql_server.sql.fully_qualified_domain_name
}
