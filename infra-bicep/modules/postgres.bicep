// Azure Database for PostgreSQL Flexible Server with the extensions Sentinel can use: TimescaleDB (Apache-2 edition;
// samples and roll-ups become hypertables), pg_cron and pg_partman allow-listed (azure.extensions) and TimescaleDB and
// pg_cron preloaded (shared_preload_libraries, a static parameter: hooks/postprovision.sh restarts the server once so
// it takes effect before the first migration). Without TimescaleDB the schema uses native partitions, so nothing
// breaks if the restart has not happened yet. Network: public endpoint, TLS required, reachable from Azure services
// (Flex Consumption has no fixed outbound addresses); see docs/deployment.md for the private-network variant.
@description('Name of the server.')
param name string

@description('Region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Major version.')
param version string

@description('Compute SKU name.')
param skuName string

@description('Compute tier.')
param skuTier string

@description('Storage in GB.')
param storageGB int

@description('Name of the database the app uses.')
param databaseName string = 'sentinel'

@description('Administrator login.')
param administratorLogin string = 'sentinel'

@secure()
@description('Administrator password (also stored in Key Vault by secrets.bicep).')
param administratorPassword string

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2025-08-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
  }
  properties: {
    version: version
    administratorLogin: administratorLogin
    administratorLoginPassword: administratorPassword
    authConfig: {
      passwordAuth: 'Enabled'
      activeDirectoryAuth: 'Disabled'
    }
    storage: {
      storageSizeGB: storageGB
      autoGrow: 'Enabled'
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: { mode: 'Disabled' }
    network: { publicNetworkAccess: 'Enabled' }
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2025-08-01' = {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
  dependsOn: [cronDatabase]
}

// A server takes one change at a time (parallel child deployments fail with ServerIsBusy), hence the dependsOn chain.
resource extensions 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2025-08-01' = {
  parent: server
  name: 'azure.extensions'
  properties: {
    value: 'TIMESCALEDB,PG_CRON,PG_PARTMAN,PG_STAT_STATEMENTS'
    source: 'user-override'
  }
}

resource preload 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2025-08-01' = {
  parent: server
  name: 'shared_preload_libraries'
  properties: {
    value: 'timescaledb,pg_cron,pg_stat_statements'
    source: 'user-override'
  }
  dependsOn: [extensions]
}

resource cronDatabase 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2025-08-01' = {
  parent: server
  name: 'cron.database_name'
  properties: {
    value: databaseName
    source: 'user-override'
  }
  dependsOn: [preload]
}

// 0.0.0.0–0.0.0.0 is Azure's "allow public access from Azure services" rule: the function app's outbound addresses
// are not fixed on Flex Consumption. Clients still need the password, over TLS.
resource allowAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2025-08-01' = {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
  dependsOn: [database]
}

output name string = server.name
output fqdn string = server.properties.fullyQualifiedDomainName
// The password is appended in secrets.bicep, which writes the whole string to Key Vault.
output npgsqlSettings string = 'Host=${server.properties.fullyQualifiedDomainName};Port=5432;Database=${database.name};Username=${administratorLogin};SSL Mode=VerifyFull'
