# Badly kept: literal secrets in arguments (KV010).
resource "azurerm_postgresql_flexible_server" "legacy" {
  name                   = "psql-contoso-legacy"
  resource_group_name    = "rg-contoso-legacy"
  location               = "westeurope"
  version                = "16"
  administrator_login    = "pgadmin"
  administrator_password = "Legacy-Pg-Pass-2021"
  sku_name               = "B_Standard_B1ms"
}

resource "azurerm_key_vault_secret" "registry" {
  name         = "registry-password"
  value        = "Reg1stry-Passw0rd-2022"
  key_vault_id = "/subscriptions/8f2d1c34-5b6a-4e7f-9a0b-1c2d3e4f5a6b/resourceGroups/rg-shared-security/providers/Microsoft.KeyVault/vaults/kv-contoso-prod"
}
