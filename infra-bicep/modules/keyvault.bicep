// Key Vault with Azure RBAC: the app's identity reads secrets (Key Vault references), the deployer manages them.
@description('Name of the vault (3–24 characters).')
param name string

@description('Region.')
param location string

@description('Tags for every resource.')
param tags object

resource vault 'Microsoft.KeyVault/vaults@2026-05-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
