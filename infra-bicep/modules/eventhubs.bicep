// Event Hubs Standard: the metrics hub agents send to, the ingest function's consumer group, and a send-only SAS rule
// for agents (they run outside Azure, so a SAS key scoped to Send on this one hub is their credential; its connection
// string goes to Key Vault in secrets.bicep). The function app reads with its identity (Data Receiver), not a key.
@description('Name of the Event Hubs namespace.')
param namespaceName string

@description('Region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Throughput units.')
param capacity int

@description('Name of the metrics hub (app setting SENTINEL_METRICS_HUB).')
param hubName string

@description('Partitions of the metrics hub.')
param partitionCount int

@description('Days events are kept.')
param retentionDays int

@description('Consumer group of the ingest function (app setting SENTINEL_METRICS_CONSUMER_GROUP).')
param consumerGroupName string

resource namespace 'Microsoft.EventHub/namespaces@2026-01-01' = {
  name: namespaceName
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
    capacity: capacity
  }
  properties: {
    minimumTlsVersion: '1.2'
    // Agents authenticate with the send-only SAS rule below; everything in Azure uses Entra ID.
    disableLocalAuth: false
    isAutoInflateEnabled: false
    publicNetworkAccess: 'Enabled'
  }
}

resource hub 'Microsoft.EventHub/namespaces/eventhubs@2026-01-01' = {
  parent: namespace
  name: hubName
  properties: {
    partitionCount: partitionCount
    messageRetentionInDays: retentionDays
  }
}

resource consumerGroup 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2026-01-01' = {
  parent: hub
  name: consumerGroupName
}

resource agentSend 'Microsoft.EventHub/namespaces/eventhubs/authorizationRules@2026-01-01' = {
  parent: hub
  name: 'agent-send'
  properties: {
    rights: ['Send']
  }
}

output namespaceName string = namespace.name
output namespaceFqdn string = '${namespace.name}.servicebus.windows.net'
output hubName string = hub.name
output consumerGroupName string = consumerGroup.name
output sendRuleName string = agentSend.name
