// The function app: the custom handler (`sentinel-functions serve`, see host.json) on Flex Consumption, or on Elastic
// Premium behind a parameter. Every app setting the handler reads is here or has a safe default in code, every secret
// is a Key Vault reference, and the host reaches storage, Event Hubs and Application Insights with the identity —
// tests/Sentinel.Functions.Tests/Deployment/DeploymentConsistencyTests.cs checks all of that against the code.
@description('Name of the function app.')
param appName string

@description('Name of its plan.')
param planName string

@description('Region.')
param location string

@description('Tags for every resource.')
param tags object

@allowed(['FlexConsumption', 'ElasticPremium'])
@description('Hosting plan.')
param hostingPlan string

@description('Flex Consumption instance memory in MB.')
param instanceMemoryMB int

@description('Flex Consumption maximum instances.')
param maximumInstanceCount int

@description('Flex Consumption always-ready instances of the HTTP group.')
param alwaysReadyHttpInstances int

@description('Elastic Premium SKU.')
param elasticPremiumSku string

@description('Resource id of the user-assigned identity.')
param identityId string

@description('Client id of the user-assigned identity.')
param identityClientId string

@description('Name of the storage account (host storage, deployment container, directory tables).')
param storageAccountName string

@description('Flex Consumption deployment container.')
param deploymentContainerName string

@description('Application Insights connection string (not a secret: ingestion requires the identity).')
param appInsightsConnectionString string

@description('Event Hubs namespace host name.')
param eventHubsNamespaceFqdn string

@description('Name of the metrics hub.')
param metricsHubName string

@description('Consumer group of the ingest function.')
param metricsConsumerGroup string

@description('Versionless Key Vault secret URIs by secret name (secrets.bicep).')
param secretUris object

@description('Kids of the token signing keys, all derived from the jwt-signing-secret; the last one signs.')
param jwtSigningKeyIds array

@description('The kid that signs (empty: the last).')
param jwtActiveSigningKeyId string

@description('Email of the first owner.')
param adminEmail string

@description('open or closed.')
param signup string

@description('Prefix of the directory tables.')
param tablePrefix string

@description('Origins allowed to call the API from a browser (the dashboard).')
param corsOrigins array

var flex = hostingPlan == 'FlexConsumption'

resource storage 'Microsoft.Storage/storageAccounts@2026-06-01' existing = {
  name: storageAccountName
}

// '@Microsoft.KeyVault(SecretUri=…)' by secret name: resolved by the platform with keyVaultReferenceIdentity.
var keyVaultRef = reduce(items(secretUris), {}, (acc, s) => union(acc, { '${s.key}': '@Microsoft.KeyVault(SecretUri=${s.value})' }))

var signingKeySettings = flatten(map(range(0, length(jwtSigningKeyIds)), i => [
  { name: 'Identity__SigningKeys__${i}__Id', value: trim(jwtSigningKeyIds[i]) }
  { name: 'Identity__SigningKeys__${i}__Secret', value: keyVaultRef['jwt-signing-secret'] }
]))

var appSettings = concat([
  // ---- read by the Functions host
  { name: 'AzureWebJobsStorage__accountName', value: storage.name }
  { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
  { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
  { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identityClientId};Authorization=AAD' }
  // The ingest function's binding: connection prefix EventHubConnection, hub and consumer group through %settings%.
  { name: 'EventHubConnection__fullyQualifiedNamespace', value: eventHubsNamespaceFqdn }
  { name: 'EventHubConnection__credential', value: 'managedidentity' }
  { name: 'EventHubConnection__clientId', value: identityClientId }
  { name: 'SENTINEL_METRICS_HUB', value: metricsHubName }
  { name: 'SENTINEL_METRICS_CONSUMER_GROUP', value: metricsConsumerGroup }
  // ---- read by the handler
  { name: 'ConnectionStrings__Postgres', value: keyVaultRef['postgres-connection-string'] }
  { name: 'ConnectionStrings__Redis', value: keyVaultRef['redis-connection-string'] }
  { name: 'Tables__Endpoint', value: storage.properties.primaryEndpoints.table }
  { name: 'Tables__ClientId', value: identityClientId }
  { name: 'Identity__TablePrefix', value: tablePrefix }
  { name: 'Identity__Signup', value: signup }
  { name: 'Identity__ActiveSigningKeyId', value: jwtActiveSigningKeyId }
  { name: 'Identity__BootstrapAdmin__Email', value: adminEmail }
  { name: 'Identity__BootstrapAdmin__Password', value: keyVaultRef['admin-password'] }
  { name: 'Monitoring__AgentKeySecret', value: keyVaultRef['agent-key-secret'] }
  { name: 'Monitoring__AgentConnectionString', value: keyVaultRef['agent-connection-string'] }
], signingKeySettings, flex ? [] : [
  // Flex sets the runtime in functionAppConfig and rejects these two; the other plans need them.
  { name: 'FUNCTIONS_EXTENSION_VERSION', value: '~4' }
  { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'custom' }
])

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: planName
  location: location
  tags: tags
  kind: flex ? 'functionapp' : 'elastic'
  sku: flex ? { name: 'FC1', tier: 'FlexConsumption' } : { name: elasticPremiumSku, tier: 'ElasticPremium' }
  properties: {
    reserved: true
    maximumElasticWorkerCount: flex ? null : 20
  }
}

resource app 'Microsoft.Web/sites@2025-03-01' = {
  name: appName
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    functionAppConfig: flex ? {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      // FLEX-STACK: runtime `custom` 1.0 is the custom-handler stack (shared/research/custom-handler-protocol.md §5.1).
      runtime: { name: 'custom', version: '1.0' }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        alwaysReady: alwaysReadyHttpInstances > 0 ? [{ name: 'http', instanceCount: alwaysReadyHttpInstances }] : []
      }
    } : null
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      // Elastic Premium: one instance always warm (Flex uses alwaysReady above).
      minimumElasticInstanceCount: flex ? null : 1
      cors: {
        allowedOrigins: corsOrigins
        supportCredentials: false
      }
      appSettings: appSettings
    }
  }
}

output name string = app.name
output url string = 'https://${app.properties.defaultHostName}'
