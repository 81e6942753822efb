// The dashboard on Azure Static Web Apps (azd service `web`). It calls the function app directly (CORS on the app
// allows this origin); the API's URL is written into its config.json at deploy time (azure.yaml prepackage hook).
@description('Name of the Static Web App.')
param name string

@description('Region (Static Web Apps is offered in a few regions).')
param location string

@description('Tags for every resource.')
param tags object

@description('Free or Standard.')
param sku string

resource site 'Microsoft.Web/staticSites@2025-03-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'web' })
  sku: {
    name: sku
    tier: sku
  }
  properties: {
    // azd deploys the built files; no repository integration.
    allowConfigFileUpdates: true
    stagingEnvironmentPolicy: 'Disabled'
  }
}

output name string = site.name
output url string = 'https://${site.properties.defaultHostname}'
