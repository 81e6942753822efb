// Every secret the function app uses, in Key Vault. App settings carry only Key Vault references to these
// (functionapp.bicep); the values never appear in app settings, outputs or logs. Versionless references: a new
// secret version is picked up by the app within a day, or at once on restart.
@description('Name of the vault.')
param keyVaultName string

@description('Npgsql settings (host, database, user, TLS) to which the password is appended.')
param postgresSettings string

@secure()
@description('PostgreSQL administrator password.')
param postgresAdminPassword string

@description('Name of the Azure Managed Redis cluster (its database "default" has the access key).')
param redisName string

@description('Name of the Event Hubs namespace.')
param eventHubsNamespaceName string

@description('Name of the metrics hub.')
param metricsHubName string

@description('Name of the hub\'s send-only rule for agents.')
param agentSendRuleName string

@secure()
@description('Master secret agent keys are derived from.')
param agentKeySecret string

@secure()
@description('Secret the token signing keys are derived from.')
param jwtSigningSecret string

@secure()
@description('Password of the first owner.')
param adminPassword string

resource vault 'Microsoft.KeyVault/vaults@2026-05-15' existing = {
  name: keyVaultName
}

resource redis 'Microsoft.Cache/redisEnterprise@2025-07-01' existing = {
  name: redisName
}

resource redisDatabase 'Microsoft.Cache/redisEnterprise/databases@2025-07-01' existing = {
  parent: redis
  name: 'default'
}

resource agentSend 'Microsoft.EventHub/namespaces/eventhubs/authorizationRules@2026-01-01' existing = {
  name: '${eventHubsNamespaceName}/${metricsHubName}/${agentSendRuleName}'
}

// StackExchange.Redis configuration string; abortConnect=false lets the app start while Redis is unreachable.
var redisConnection = '${redis.properties.hostName}:10000,password=${redisDatabase.listKeys().primaryKey},ssl=True,abortConnect=False'

var values = {
  'postgres-connection-string': '${postgresSettings};Password=${postgresAdminPassword}'
  'redis-connection-string': redisConnection
  'agent-key-secret': agentKeySecret
  'agent-connection-string': agentSend.listKeys().primaryConnectionString
  'jwt-signing-secret': jwtSigningSecret
  'admin-password': adminPassword
}

// A loop's array must be known when the deployment starts, so it runs over the names (values hold listKeys() calls).
var names = [
  'postgres-connection-string'
  'redis-connection-string'
  'agent-key-secret'
  'agent-connection-string'
  'jwt-signing-secret'
  'admin-password'
]

resource secrets 'Microsoft.KeyVault/vaults/secrets@2026-05-15' = [for name in names: {
  parent: vault
  name: name
  properties: {
    value: values[name]
    contentType: 'text/plain'
  }
}]

// Versionless secret URIs by name, for Key Vault references.
output uris object = reduce(names, {}, (acc, name) => union(acc, { '${name}': '${vault.properties.vaultUri}secrets/${name}' }))
