# Sentinel Serverless — the two commands are `make run` and `make test`; the rest are their parts.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CONFIG ?= Release
APP := artifacts/functionapp
PUBLISH := artifacts/publish/handler
AGENT := artifacts/agent
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1

.PHONY: help run test stack stop build package dashboard agent bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 12

run: ## install what is missing, start the stack and the standalone host; Ctrl-C stops it all
	.ci/dev

test: stack package agent dashboard ## start the stack, build the package, the agent and the dashboard, run every test
	set -a && . .data/stack.env && set +a && \
	  SENTINEL_PACKAGE_DIR="$(CURDIR)/$(APP)" SENTINEL_AGENT_BINARY="$(CURDIR)/$(AGENT)/linux-x64/sentinel-agent" .ci/dotnet-test -c $(CONFIG)

stack: ## install what is missing and start PostgreSQL, Redis and Azurite (idempotent)
	.ci/stack up

stop: ## stop the local stack
	.ci/stack down

build: ## build everything
	dotnet build Sentinel.Serverless.sln -c $(CONFIG)

package: ## artifacts/functionapp (host.json, function folders, self-contained handler) and artifacts/functionapp.zip
	.ci/stack install
	rm -rf $(PUBLISH) $(APP) artifacts/functionapp.zip
	dotnet publish functions/Sentinel.Functions -c Release -r linux-x64 --self-contained \
	  -p:PublishSingleFile=true -p:PublishReadyToRun=true -p:InvariantGlobalization=true \
	  -p:DebugType=none -o $(PUBLISH)
	mkdir -p $(APP)
	cp $(PUBLISH)/sentinel-functions host.json $(APP)/
	chmod 755 $(APP)/sentinel-functions
	$(APP)/sentinel-functions metadata --out $(APP) >/dev/null
	# zip keeps the Unix mode bits (azd's own zip drops the execute bit; azure.yaml deploys this zip; docs/deployment.md)
	cd $(APP) && zip -qrX ../functionapp.zip .
	@echo "package: $(APP) and artifacts/functionapp.zip"

dashboard: ## dashboard/dist for Static Web Apps (API_BASE_URL = the function app's origin; azd's prepackage hook sets it)
	.ci/dashboard-dist

agent: ## sentinel-agent: self-contained single-file trimmed linux-x64 (no .NET on the server), and framework-dependent for other architectures
	rm -rf $(AGENT)
	dotnet publish agent/Sentinel.Agent -c Release -r linux-x64 --self-contained -p:PublishSingleFile=true -p:PublishTrimmed=true \
	  -p:PublishReadyToRun=true -p:DebugType=none -o $(AGENT)/linux-x64
	dotnet publish agent/Sentinel.Agent -c Release --no-self-contained -p:DebugType=none -o $(AGENT)/portable
	@echo "agent: $(AGENT)/linux-x64/sentinel-agent ($$(du -h $(AGENT)/linux-x64/sentinel-agent | cut -f1)), $(AGENT)/portable (dotnet sentinel-agent.dll)"

bench: stack package agent ## run the benchmarks (ratios against baselines measured in the same run; BENCH=limiter|gateway|ingest|agent|relay|detectors|dashboard|coldstart for one)
	.ci/stack install-bench
	dotnet build functions/Sentinel.Functions -c Release -o artifacts/bench/framework-dependent -v quiet -nologo
	set -a && . .data/stack.env && set +a && \
	  dotnet run --project tests/Sentinel.Benchmarks -c Release -- --package "$(CURDIR)/$(APP)" \
	    --dll "$(CURDIR)/artifacts/bench/framework-dependent/sentinel-functions.dll" \
	    --agent "$(CURDIR)/$(AGENT)/linux-x64/sentinel-agent" $(if $(BENCH),--only $(BENCH))
	@if [ -z "$(BENCH)" ] || [ "$(BENCH)" = dashboard ]; then \
	  $(MAKE) --no-print-directory dashboard >/dev/null && set -a && . .data/stack.env && set +a && \
	  dotnet test tests/Sentinel.Functions.Tests -c Release --nologo -v quiet --filter "FullyQualifiedName~DashboardScaleTests" >/dev/null && \
	  echo && cat artifacts/bench/dashboard.txt; fi

clean: ## remove build output (keeps .data/)
	rm -rf artifacts
	find . -name bin -o -name obj | grep -v node_modules | xargs rm -rf
