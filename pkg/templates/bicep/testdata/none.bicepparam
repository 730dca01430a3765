using none

param storagePassword = 'literal'
param token = az.getSecret('sub', 'rg', 'vault', 'token')
