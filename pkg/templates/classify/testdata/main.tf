terraform {
  required_version = ">= 1.5"
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 3.100"
    }
  }
}

provider "azurerm" {
  features {}
  client_secret = "provider-literal-secret"
}

variable "location" {
  type    = string
  default = "westeurope"
}

variable "sql_admin_password" {
  description = "SQL administrator password"
  type        = string
  sensitive   = true
}

variable "api_token" {
  type    = string
  default = "tok-literal-123"
}

variable "vm_count" {
  type    = number
  default = 2
}

variable "settings" {
  type = object({
    tier     = string
    password = optional(string)
  })
  default = {
    tier     = "Standard"
    password = "nested-literal"
  }
}

locals {
  prefix      = "app-${var.location}"
  conn_string = "Server=tcp:${azurerm_mssql_server.sql.fully_qualified_domain_name};Password=${var.sql_admin_password}"
  static      = "plain"
}

data "azurerm_client_config" "current" {}

data "azurerm_key_vault" "kv" {
  name                = "kv-prod-01"
  resource_group_name = "rg-security"
}

data "azurerm_key_vault_secret" "db" {
  name         = "sql-admin-password"
  key_vault_id = data.azurerm_key_vault.kv.id
}

resource "azurerm_mssql_server" "sql" {
  name                         = "${local.prefix}-sql"
  resource_group_name          = "rg-app"
  location                     = var.location
  version                      = "12.0"
  administrator_login          = "sqladmin"
  administrator_login_password = data.azurerm_key_vault_secret.db.value
}

resource "azurerm_linux_virtual_machine" "vm" {
  count                           = var.vm_count
  name                            = "${local.prefix}-vm${count.index}"
  admin_username                  = "azureuser"
  admin_password                  = "Pa55w0rd!"
  disable_password_authentication = false

  os_disk {
    caching              = "ReadWrite"
    storage_account_type = "Standard_LRS"
  }

  dynamic "admin_ssh_key" {
    for_each = []
    content {
      username   = "azureuser"
      public_key = file("~/.ssh/id_rsa.pub")
    }
  }

  custom_data = base64encode(<<-EOT
    #!/bin/bash
    echo hello
  EOT
  )
}

resource "azurerm_key_vault_secret" "literal" {
  name         = "api-key"
  value        = "hunter2"
  key_vault_id = data.azurerm_key_vault.kv.id
}

resource "azurerm_linux_web_app" "web" {
  name = "${local.prefix}-web"
  app_settings = {
    "DB_PASSWORD" = "literal-in-map"
    API_TOKEN     = var.api_token
    "KV_REF"      = "@Microsoft.KeyVault(SecretUri=${data.azurerm_key_vault_secret.db.id})"
  }
  site_config {
    always_on = true
  }
}

module "network" {
  source        = "./modules/network"
  address_space = ["10.0.0.0/16"]
  vpn_shared_key = "module-literal"
}

output "sql_password" {
  value     = var.sql_admin_password
  sensitive = true
}

output "conn" {
  value = local.conn_string
}

moved {
  from = azurerm_key_vault_secret.old
  to   = azurerm_key_vault_secret.literal
}
