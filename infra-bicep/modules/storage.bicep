// The storage account: the Functions host's own storage (timer locks, Event Hubs checkpoints, reached through the
// identity), the Flex Consumption deployment container, and the directory's tables (users, tenants, API keys,
// sessions, relay routes). Shared keys are off: everything authenticates with Entra ID.
@description('Name of the storage account (3–24 lowercase letters and digits).')
param name string

@description('Region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Prefix of the directory tables (Identity:TablePrefix).')
param tablePrefix string

var deploymentContainerName = 'app-package'
// IdentityDirectory.TableNames and RelayRouteStore.TableNames; the consistency test keeps this list equal to them.
var tableNames = [
  '${tablePrefix}Tenants'
  '${tablePrefix}Users'
  '${tablePrefix}Logins'
  '${tablePrefix}ApiKeys'
  '${tablePrefix}Sessions'
  '${tablePrefix}RelayRoutes'
  '${tablePrefix}RelayInstances'
]

resource account 'Microsoft.Storage/storageAccounts@2026-06-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    publicNetworkAccess: 'Enabled'
  }
}

resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2026-06-01' = {
  parent: account
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2026-06-01' = {
  parent: blobs
  name: deploymentContainerName
  properties: { publicAccess: 'None' }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2026-06-01' = {
  parent: account
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2026-06-01' = [for table in tableNames: {
  parent: tableService
  name: table
}]

output name string = account.name
output deploymentContainerName string = deploymentContainer.name
output tableEndpoint string = account.properties.primaryEndpoints.table
