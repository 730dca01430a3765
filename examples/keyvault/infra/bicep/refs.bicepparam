using 'br/public:avm/res/web/site:0.3.0'

// KV008: the secret name has an underscore, which Key Vault does not allow.
param appSettingsKeyValuePairs = {}
param storageAccountKey = az.getSecret('8f2d1c34-5b6a-4e7f-9a0b-1c2d3e4f5a6b', 'rg-shared-security', 'kv-contoso-prod', 'storage_account_key')
