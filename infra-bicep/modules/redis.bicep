// Azure Managed Redis (Microsoft.Cache/redisEnterprise). The pinned StackExchange.Redis 1.2.6 has no Entra ID
// authentication, so the database keeps access keys enabled and secrets.bicep puts the key in Key Vault. NoCluster
// gives one endpoint and no hash-slot rules, which the 1.2.6 client and the limiter's multi-key scripts need.
@description('Name of the cluster.')
param name string

@description('Region.')
param location string

@description('Tags for every resource.')
param tags object

@description('SKU, e.g. Balanced_B0.')
param skuName string

@description('Replicate the cluster (doubles the price; the data here is rate-limit state and caches, rebuilt on loss).')
param highAvailability bool = false

resource cluster 'Microsoft.Cache/redisEnterprise@2025-07-01' = {
  name: name
  location: location
  tags: tags
  sku: { name: skuName }
  properties: {
    minimumTlsVersion: '1.2'
    highAvailability: highAvailability ? 'Enabled' : 'Disabled'
    publicNetworkAccess: 'Enabled'
  }
}

resource database 'Microsoft.Cache/redisEnterprise/databases@2025-07-01' = {
  parent: cluster
  name: 'default'
  properties: {
    clientProtocol: 'Encrypted'
    port: 10000
    clusteringPolicy: 'NoCluster'
    // Rate-limit buckets, dedupe keys and owner copies all carry TTLs; nothing may be evicted early.
    evictionPolicy: 'NoEviction'
    accessKeysAuthentication: 'Enabled'
  }
}

output name string = cluster.name
output hostName string = cluster.properties.hostName
