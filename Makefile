# Knative function platform: develop, test and deploy a TypeScript function on Knative/EKS.
# Targets stay thin: logic lives in scripts/ (tested) and function/.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

ROOT := $(abspath .)
BIN := $(ROOT)/bin
export PATH := $(ROOT)/node_modules/.bin:$(BIN):$(ROOT)/.venv/bin:$(PATH)

##@ General

.PHONY: help
help: ## Show this help, grouped by purpose
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m [VAR=value]\n"} \
	  /^[a-zA-Z0-9_%-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } \
	  /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Develop

node_modules/.package-lock.json: package.json package-lock.json
	@# npm itself runs on the machine's Node; its engine warnings about Node 24 packages are expected (Node 24 comes from the `node` dev dependency).
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

.PHONY: deps
deps: node_modules/.package-lock.json ## Install npm dependencies (npm ci), including Node 24 as a dev dependency

.PHONY: build
build: deps ## Type-check and build the function into dist/
	npm run build

.PHONY: run
run: build ## Run the built function alone on PORT (default 8080), no peers; set SECRETS= to skip Secrets Manager
	npm start

.PHONY: dev
dev: tools build ## Run the function behind Knative's queue-proxy with moto, Jaeger and Prometheus; prints the URLs (DEV_*_PORT=...)
	node scripts/dev/main.ts

.PHONY: trace
trace: ## Print the span tree of one trace from Jaeger: make trace ID=<trace id> (local), or ENV=dev|prod (cluster, via port-forward)
	$(if $(ENV),node scripts/deploy/cli.ts trace '$(ENV)' '$(ID)',node scripts/trace.ts '$(ID)')

##@ Local cluster

.PHONY: cluster
cluster: build ## Start a local Kubernetes + Knative Serving (the platform's Knative settings) in the background and deploy the function to it; prints the kubeconfig and URL
	scripts/tools/install.sh helm jaeger
	node scripts/cluster/main.ts up
	node scripts/deploy/cli.ts deploy-local

.PHONY: deploy-local
deploy-local: build ## Deploy the built function to the running local cluster (helm upgrade --install, wait Ready, smoke test)
	$(DEPLOY) deploy-local

.PHONY: test-cluster
test-cluster: build ## Run the cluster suite alone (starts and stops a local cluster; CLUSTER_KUBECONFIG=... points it at another)
	scripts/tools/install.sh helm jaeger
	node scripts/cluster/main.ts build
	node scripts/test.mjs scripts/test/cluster/knative.test.ts

.PHONY: cluster-down
cluster-down: ## Stop the local cluster and remove everything it made (processes, network namespaces)
	node scripts/cluster/main.ts down

##@ Test

.PHONY: test
test: tools build ## Run every test suite (function, local stack, chart, platform, local cluster, scripts) and print "N passed, N failed"
	node scripts/cluster/main.ts build
	node scripts/test.mjs

##@ Chart

CHART_SCENARIO ?= dev

.PHONY: chart-test
chart-test: ## Validate the Helm chart alone: lint, kubeconform, Knative's own validation, promtool, checkov
	scripts/tools/install.sh helm kubeconform schemas prometheus checkov
	tap chart/test/*.test.ts

.PHONY: chart-render
chart-render: ## Print the chart rendered with chart/ci/$(CHART_SCENARIO)-values.yaml (or platform/envs/$(CHART_SCENARIO)/function-values.yaml) and a placeholder image
	bin/helm template knative-fn chart --namespace functions --kube-version "$$(node -p 'require("./platform/versions.json").kubernetes.version')" \
	  -f chart/test/fixtures/image-values.yaml \
	  $(if $(wildcard platform/envs/$(CHART_SCENARIO)/function-values.yaml),-f platform/envs/$(CHART_SCENARIO)/function-values.yaml -f chart/test/fixtures/platform-values.yaml,-f chart/ci/$(CHART_SCENARIO)-values.yaml)

##@ Tools

.PHONY: tools
tools: ## Install the pinned tools into ./bin and ./.venv (cached under ~/.cache, keyed by version)
	scripts/tools/install.sh

##@ Deploy

# ENV is left unset by default (make trace without ENV stays local); the Deploy targets default to dev.
DEPLOY_ENV = $(or $(ENV),dev)
N ?= 10
DEPLOY := node scripts/deploy/cli.ts

.PHONY: deploy-dev
deploy-dev: ## Deploy to dev: preflight, platform apply, image build + push by digest, helm install, wait Ready, smoke test
	$(DEPLOY) deploy-dev

.PHONY: deploy-prod
deploy-prod: ## Promote the digest running in dev to prod, no rebuild (asks to confirm, or CONFIRM=prod)
	$(DEPLOY) deploy-prod

.PHONY: destroy-dev
destroy-dev: ## Tear dev down: helm uninstall, then platform destroy (asks to confirm, or CONFIRM=dev)
	$(DEPLOY) destroy dev

.PHONY: status
status: ## Show the function in ENV=dev|prod (default dev): readiness, URL, image, revisions, traffic split, ready pods
	$(DEPLOY) status $(DEPLOY_ENV)

.PHONY: logs
logs: ## Show the function's logs in ENV=dev|prod (FOLLOW=1 to follow, TAIL=N lines)
	$(DEPLOY) logs $(DEPLOY_ENV)

.PHONY: coldstart
coldstart: ## Measure scale-from-zero in ENV (default dev; local = make cluster): wait for zero pods, one request, N=10 times; p50/p95/max + phases (SERVICE= another ksvc)
	node scripts/coldstart.ts --env $(DEPLOY_ENV) --samples $(N) $(if $(SERVICE),--service '$(SERVICE)')

##@ Platform

.PHONY: plan-dev
plan-dev: ## Plan the dev platform (OpenTofu init + plan against the S3 state); needs AWS credentials
	scripts/platform.sh plan dev

.PHONY: plan-prod
plan-prod: ## Plan the prod platform (OpenTofu init + plan against the S3 state); needs AWS credentials
	scripts/platform.sh plan prod

.PHONY: platform-bootstrap
platform-bootstrap: ## Create the Terraform state bucket once per account (platform/bootstrap), named from ENV=dev|prod (default dev)
	scripts/platform.sh bootstrap $(DEPLOY_ENV)

##@ Performance

.PHONY: bench
bench: build ## Benchmark the function against bare Fastify: cold start, RSS, req/s, p99, payload; writes bench-results.json (installs wrk with apt-get if missing)
	scripts/bench/run.sh

##@ Reliability

SOAK_SECONDS ?= 600

.PHONY: soak
soak: tools build ## Soak the function behind queue-proxy at 70% of its measured max rate for SOAK_SECONDS (default 600): errors, p99 drift, RSS growth, event-loop lag
	SOAK_SECONDS='$(SOAK_SECONDS)' node scripts/soak/main.ts
