// The one identity of the function app: host storage, Event Hubs, Table storage, Key Vault references and Application
// Insights all authenticate with it (roles.bicep grants what each needs).
@description('Name of the user-assigned managed identity.')
param name string

@description('Region.')
param location string

@description('Tags for every resource.')
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
