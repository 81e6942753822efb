#!/bin/sh
# azd postprovision hook. azd exports main.bicep's outputs (AZURE_RESOURCE_GROUP, AZURE_POSTGRES_SERVER_NAME, …).
# 1. shared_preload_libraries is a static PostgreSQL parameter: restart the server once while it waits for one, so
#    TimescaleDB is loaded before the handler's first migration decides between hypertables and native partitions.
#    Idempotent: nothing happens when no restart is pending. Needs the az CLI (logged in); without it the schema
#    uses native partitions, which work the same (docs/deployment.md).
# 2. Prints where the dashboard is and how to sign in. Never prints a secret.
set -u

if command -v az >/dev/null 2>&1; then
  pending=$(az postgres flexible-server parameter show --resource-group "$AZURE_RESOURCE_GROUP" \
    --server-name "$AZURE_POSTGRES_SERVER_NAME" --name shared_preload_libraries \
    --query isConfigPendingRestart --output tsv 2>/dev/null || echo unknown)
  case "$pending" in
    true)
      echo "postprovision: restarting PostgreSQL so shared_preload_libraries (timescaledb, pg_cron) takes effect"
      az postgres flexible-server restart --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_POSTGRES_SERVER_NAME" --output none ;;
    false) echo "postprovision: PostgreSQL parameters are in effect" ;;
    *) echo "postprovision: could not read PostgreSQL parameters (run 'az login'); TimescaleDB may wait for a restart — docs/deployment.md" ;;
  esac
else
  echo "postprovision: az CLI not found; restart PostgreSQL once to load TimescaleDB (optional) — docs/deployment.md"
fi

cat <<MSG

Sentinel Serverless is provisioned.
  API        ${API_BASE_URL:-}/api/health
  Dashboard  ${DASHBOARD_URL:-}
  Sign in as ${SENTINEL_ADMIN_EMAIL:-admin@sentinel.local}; the password is in Key Vault:
    az keyvault secret show --vault-name ${AZURE_KEY_VAULT_NAME:-<vault>} --name admin-password --query value -o tsv
MSG
