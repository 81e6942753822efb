// Sentinel Serverless on Azure: `azd up` provisions this, then deploys the function app (service `api`) and the
// dashboard (service `web`). One resource group; every name derives from the environment name and a resource token.
// Decisions and API versions: infra-bicep/README.md and docs/deployment.md.
targetScope = 'subscription'

// ---------------------------------------------------------------- environment

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; prefixes the resource group and tags every resource (azd-env-name).')
param environmentName string

@minLength(1)
@metadata({ azd: { type: 'location' } })
@description('Azure region for every resource (Flex Consumption, Azure Managed Redis and PostgreSQL Flexible Server must all be offered there).')
param location string

@description('Object id of the person or pipeline running azd (azd sets AZURE_PRINCIPAL_ID); gets Key Vault Secrets Officer so it can read the first admin password and rotate secrets. Empty: none.')
param principalId string = ''

@allowed(['User', 'ServicePrincipal', 'Group'])
@description('Kind of principalId.')
param principalType string = 'User'

// ---------------------------------------------------------------- function app

@allowed(['FlexConsumption', 'ElasticPremium'])
@description('Hosting plan of the function app. FlexConsumption (default): scale to zero, per-function scaling. ElasticPremium: always-warm EP instances (see docs/deployment.md for the execute-bit note).')
param hostingPlan string = 'FlexConsumption'

@allowed([512, 2048, 4096])
@description('Flex Consumption instance memory in MB (512 = 0.25 vCPU, 2048 = 1 vCPU, 4096 = 2 vCPU).')
param instanceMemoryMB int = 2048

@minValue(40)
@maxValue(1000)
@description('Flex Consumption: most instances the app scales out to (per-function groups included).')
param maximumInstanceCount int = 100

@minValue(0)
@maxValue(20)
@description('Flex Consumption: always-ready instances for the HTTP group (0 = scale to zero; 1 removes cold starts of the API and the relay at a baseline cost).')
param alwaysReadyHttpInstances int = 0

@allowed(['EP1', 'EP2', 'EP3'])
@description('Elastic Premium SKU, used only when hostingPlan is ElasticPremium.')
param elasticPremiumSku string = 'EP1'

// ---------------------------------------------------------------- Event Hubs

@minValue(1)
@maxValue(32)
@description('Partitions of the metrics hub (fixed after creation on Standard). 4 carries thousands of agents.')
param metricsHubPartitions int = 4

@minValue(1)
@maxValue(7)
@description('Days Event Hubs keeps agent batches (Standard: 1–7). The ingest function checkpoints, so this is the outage it survives.')
param metricsHubRetentionDays int = 3

@minValue(1)
@maxValue(20)
@description('Event Hubs Standard throughput units (1 TU = 1 MB/s or 1,000 events/s in).')
param eventHubsCapacity int = 1

// ---------------------------------------------------------------- PostgreSQL

@allowed(['16', '17'])
@description('PostgreSQL major version.')
param postgresVersion string = '16'

@description('PostgreSQL compute SKU name (Burstable B1ms is the smallest; General Purpose D2ds_v5 for production).')
param postgresSkuName string = 'Standard_B1ms'

@allowed(['Burstable', 'GeneralPurpose', 'MemoryOptimized'])
@description('Tier of postgresSkuName.')
param postgresSkuTier string = 'Burstable'

@minValue(32)
@description('PostgreSQL storage in GB (grows automatically).')
param postgresStorageGB int = 32

@secure()
@description('PostgreSQL administrator password. azd generates it once and keeps it in the environment; the app reads it from Key Vault.')
@metadata({ azd: { type: 'generate', config: { length: 40, noSpecial: true } } })
param postgresAdminPassword string

// ---------------------------------------------------------------- Redis

@description('Azure Managed Redis SKU (Balanced_B0 is the smallest).')
param redisSku string = 'Balanced_B0'

// ---------------------------------------------------------------- application secrets and settings

@secure()
@description('Master secret agent keys are derived from. Generated once by azd; changing it invalidates every agent key.')
@metadata({ azd: { type: 'generate', config: { length: 48, noSpecial: true } } })
param agentKeySecret string

@secure()
@description('Secret the ES256 token signing keys are derived from (HKDF with the kid). Generated once by azd.')
@metadata({ azd: { type: 'generate', config: { length: 48, noSpecial: true } } })
param jwtSigningSecret string

@description('Comma-separated kids of the token signing keys, each derived from jwtSigningSecret; all validate, and jwtActiveSigningKeyId (default: the last) signs. Rotation: docs/deployment.md.')
param jwtSigningKeyIds string = 'k1'

@description('The kid that signs; empty = the last of jwtSigningKeyIds. Lets a rotation publish the next key before signing with it (clients cache the JWKS for 5 minutes).')
param jwtActiveSigningKeyId string = ''

@description('Email of the first owner, created at the first start (its password is the Key Vault secret admin-password).')
param adminEmail string = 'admin@sentinel.local'

@secure()
@description('Password of the first owner. Generated once by azd; read it with `az keyvault secret show --vault-name <AZURE_KEY_VAULT_NAME> --name admin-password`.')
@metadata({ azd: { type: 'generate', config: { length: 24, noSpecial: true } } })
param adminPassword string

@allowed(['open', 'closed'])
@description('Self-service signup: closed (default on Azure) lets only invitations add users; open lets anyone create a tenant.')
param signup string = 'closed'

// ---------------------------------------------------------------- dashboard

@allowed(['Free', 'Standard'])
@description('Static Web Apps plan of the dashboard.')
param staticWebAppSku string = 'Free'

@allowed(['westus2', 'centralus', 'eastus2', 'westeurope', 'eastasia'])
@description('Region of the Static Web App (offered in these regions only; it serves from a global edge anyway).')
param staticWebAppLocation string = 'westeurope'

// ---------------------------------------------------------------- names

var tags = { 'azd-env-name': environmentName }
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var abbrs = loadJsonContent('abbreviations.json')
var metricsHubName = 'agent-metrics'
var ingestConsumerGroup = 'ingest'
var tablePrefix = 'sentinel'

resource rg 'Microsoft.Resources/resourceGroups@2025-04-01' = {
  name: '${abbrs.resourceGroup}${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  scope: rg
  name: 'identity'
  params: {
    name: '${abbrs.managedIdentity}${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  scope: rg
  name: 'monitoring'
  params: {
    logAnalyticsName: '${abbrs.logAnalytics}${resourceToken}'
    appInsightsName: '${abbrs.appInsights}${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  scope: rg
  name: 'storage'
  params: {
    name: '${abbrs.storageAccount}${resourceToken}'
    location: location
    tags: tags
    tablePrefix: tablePrefix
  }
}

module eventHubs 'modules/eventhubs.bicep' = {
  scope: rg
  name: 'eventhubs'
  params: {
    namespaceName: '${abbrs.eventHubsNamespace}${resourceToken}'
    location: location
    tags: tags
    capacity: eventHubsCapacity
    hubName: metricsHubName
    partitionCount: metricsHubPartitions
    retentionDays: metricsHubRetentionDays
    consumerGroupName: ingestConsumerGroup
  }
}

module postgres 'modules/postgres.bicep' = {
  scope: rg
  name: 'postgres'
  params: {
    name: '${abbrs.postgresServer}${resourceToken}'
    location: location
    tags: tags
    version: postgresVersion
    skuName: postgresSkuName
    skuTier: postgresSkuTier
    storageGB: postgresStorageGB
    administratorPassword: postgresAdminPassword
  }
}

module redis 'modules/redis.bicep' = {
  scope: rg
  name: 'redis'
  params: {
    name: '${abbrs.redis}${resourceToken}'
    location: location
    tags: tags
    skuName: redisSku
  }
}

module keyVault 'modules/keyvault.bicep' = {
  scope: rg
  name: 'keyvault'
  params: {
    name: '${abbrs.keyVault}${resourceToken}'
    location: location
    tags: tags
  }
}

module secrets 'modules/secrets.bicep' = {
  scope: rg
  name: 'secrets'
  params: {
    keyVaultName: keyVault.outputs.name
    postgresSettings: postgres.outputs.npgsqlSettings
    postgresAdminPassword: postgresAdminPassword
    redisName: redis.outputs.name
    eventHubsNamespaceName: eventHubs.outputs.namespaceName
    metricsHubName: eventHubs.outputs.hubName
    agentSendRuleName: eventHubs.outputs.sendRuleName
    agentKeySecret: agentKeySecret
    jwtSigningSecret: jwtSigningSecret
    adminPassword: adminPassword
  }
}

module roles 'modules/roles.bicep' = {
  scope: rg
  name: 'roles'
  params: {
    identityPrincipalId: identity.outputs.principalId
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
    storageAccountName: storage.outputs.name
    eventHubsNamespaceName: eventHubs.outputs.namespaceName
    keyVaultName: keyVault.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
  }
}

module staticWebApp 'modules/staticwebapp.bicep' = {
  scope: rg
  name: 'staticwebapp'
  params: {
    name: '${abbrs.staticWebApp}${resourceToken}'
    location: staticWebAppLocation
    tags: tags
    sku: staticWebAppSku
  }
}

module functionApp 'modules/functionapp.bicep' = {
  scope: rg
  name: 'functionapp'
  // Key Vault references and the host's storage connection resolve through these role assignments.
  dependsOn: [roles]
  params: {
    appName: '${abbrs.functionApp}${resourceToken}'
    planName: '${abbrs.appServicePlan}${resourceToken}'
    location: location
    tags: tags
    hostingPlan: hostingPlan
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    alwaysReadyHttpInstances: alwaysReadyHttpInstances
    elasticPremiumSku: elasticPremiumSku
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: storage.outputs.deploymentContainerName
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    eventHubsNamespaceFqdn: eventHubs.outputs.namespaceFqdn
    metricsHubName: eventHubs.outputs.hubName
    metricsConsumerGroup: eventHubs.outputs.consumerGroupName
    secretUris: secrets.outputs.uris
    jwtSigningKeyIds: split(jwtSigningKeyIds, ',')
    jwtActiveSigningKeyId: jwtActiveSigningKeyId
    adminEmail: adminEmail
    signup: signup
    tablePrefix: tablePrefix
    corsOrigins: [staticWebApp.outputs.url]
  }
}

// ---------------------------------------------------------------- outputs (azd writes them to .azure/<env>/.env)

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output API_BASE_URL string = functionApp.outputs.url
output DASHBOARD_URL string = staticWebApp.outputs.url
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_POSTGRES_SERVER_NAME string = postgres.outputs.name
output AZURE_POSTGRES_HOST string = postgres.outputs.fqdn
output AZURE_EVENTHUBS_NAMESPACE string = eventHubs.outputs.namespaceName
output SENTINEL_METRICS_HUB string = eventHubs.outputs.hubName
output SENTINEL_ADMIN_EMAIL string = adminEmail
