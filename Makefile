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

##@ Tools

# Every pinned tool is a file Make can see (bin/helm, ...), made by scripts/tools/install.sh NAME when it is missing
# or older than its pins: a present, current tool costs nothing. install.sh relinks a tool each time it checks it,
# and --check-symlink-times makes Make read the link's own time.
MAKEFLAGS += --check-symlink-times
TOOL_NAMES := python prometheus helm helm-unittest kubeconform schemas checkov trivy queue-proxy actionlint kind tflint jaeger tofu
TOOL_FILE_python := bin/shellcheck
TOOL_FILE_prometheus := bin/promtool
TOOL_FILE_schemas := bin/schemas/k8s
$(foreach t,$(filter-out python prometheus schemas,$(TOOL_NAMES)),$(eval TOOL_FILE_$(t) := bin/$(t)))
# The tools whose version comes from platform/versions.json too.
TOOL_PINS_queue-proxy := platform/versions.json
TOOL_PINS_schemas := platform/versions.json
$(foreach t,$(TOOL_NAMES),$(eval $(TOOL_FILE_$(t)): scripts/tools/versions.env $(TOOL_PINS_$(t)) ; scripts/tools/install.sh $(t)))
# $(call tool_files,helm jaeger): the files of these tools, as prerequisites.
tool_files = $(foreach t,$(1),$(TOOL_FILE_$(t)))

.PHONY: tools
tools: $(call tool_files,$(TOOL_NAMES)) ## Install the pinned tools that are missing or older than their pins into ./bin and ./.venv (cached under ~/.cache)

##@ Develop

# The function to build and run: a folder whose index.ts exports `routes` and/or `handler` (see README, "Write your
# function"). Every target that builds (build, run, dev, test, bench, deploy-*) takes it: make dev FUNCTION=my-fn
FUNCTION ?= function/example
export FUNCTION

node_modules/.package-lock.json: package.json package-lock.json
	@# npm itself runs on the machine's Node; its engine warnings about Node 24 packages are expected (Node 24 comes from the `node` dev dependency).
	@# A node_modules that is a link (a worktree sharing another checkout's) is left alone: npm ci would empty the
	@# folder it points to, under every checkout that shares it.
	@if [ -L node_modules ]; then echo "node_modules links to $$(readlink -f node_modules): not running npm ci through it (run it there)"; \
	else npm ci --no-audit --no-fund --loglevel=error; fi
	@touch $@

.PHONY: deps
deps: node_modules/.package-lock.json ## Install npm dependencies (npm ci), including Node 24 as a dev dependency

.PHONY: build
build: deps ## Type-check and build the function FUNCTION (default function/example) with the runtime into dist/
	npm run build

.PHONY: run
run: build ## Run the built function alone on PORT (default 8080), no peers, started as the image starts it (its snapshot); set SECRETS= to skip Secrets Manager
	exec node $$(node --input-type=module -e "import { serverArgs } from './scripts/lib/snapshot.mjs'; console.log(serverArgs('dist/server.js').join(' '))")

.PHONY: dev
dev: build $(call tool_files,python helm jaeger prometheus queue-proxy) ## Run the function behind Knative's queue-proxy with moto, Jaeger and Prometheus; prints the URLs (DEV_*_PORT=...)
	node scripts/dev/main.ts

.PHONY: trace
trace: ## Print the span tree of one trace from Jaeger: make trace ID=<trace id> (local), or ENV=dev|prod (cluster, via port-forward)
	$(if $(ENV),node scripts/deploy/cli.ts trace '$(ENV)' '$(ID)',node scripts/trace.ts '$(ID)')

##@ Local cluster

.PHONY: cluster
cluster: build $(call tool_files,helm jaeger) ## Start a local Kubernetes + Knative Serving (the platform's Knative settings) in the background and deploy the function to it; prints the kubeconfig and URL
	node scripts/cluster/main.ts up
	node scripts/deploy/cli.ts deploy-local

.PHONY: deploy-local
deploy-local: build ## Deploy the built function to the running local cluster (helm upgrade --install, wait Ready, smoke test)
	$(DEPLOY) deploy-local

.PHONY: cluster-down
cluster-down: ## Stop the local cluster and remove everything it made (processes, network namespaces)
	node scripts/cluster/main.ts down

##@ Test

# Tiers: every test file .taprc includes belongs to exactly one tier (scripts/test/tiers.test.ts checks it), and
# `make test` runs them all. Each tier target installs only the tools its files use.
TEST_UNIT := $(filter-out function/test/dockerfile.test.ts,$(wildcard function/test/*.test.ts)) \
  $(wildcard function/*/test/*.test.ts function/examples/*/test/*.test.ts) \
  chart/test/render.test.ts chart/test/function-contract.test.ts chart/test/mistakes.test.ts chart/test/unittest.test.ts \
  scripts/test/coldstart.test.ts $(filter-out scripts/test/deploy-lint.test.ts,$(wildcard scripts/test/deploy-*.test.ts)) \
  scripts/test/cluster/unit.test.ts scripts/test/tiers.test.ts scripts/test/deps.test.ts scripts/test/bench.test.ts
TEST_LINT := scripts/test/typecheck.test.ts scripts/test/scanners.test.ts scripts/test/tools.test.ts \
  scripts/test/deploy-lint.test.ts scripts/test/ci-install.test.ts function/test/dockerfile.test.ts \
  chart/test/manifests.test.ts chart/test/prometheus.test.ts
TEST_E2E := $(wildcard scripts/test/e2e/*.test.ts)
TEST_CLUSTER := scripts/test/cluster/knative.test.ts scripts/test/cluster/go.test.ts
TEST_PLATFORM := $(wildcard platform/test/*.test.ts) chart/test/checkov.test.ts chart/test/knative-validate.test.ts
TEST_TIERS := UNIT LINT E2E CLUSTER PLATFORM

# The tools each tier's files run (names of scripts/tools/install.sh). lint runs scripts/test/tools.test.ts, which
# checks every pinned tool against its pin, so it installs them all.
TOOLS_UNIT := python helm helm-unittest prometheus
TOOLS_LINT = $(TOOL_NAMES)
TOOLS_E2E := python helm jaeger prometheus queue-proxy
# Against another cluster (CLUSTER_KUBECONFIG, e.g. CI's kind job) the local cluster is neither built nor started.
TOOLS_CLUSTER := helm $(if $(CLUSTER_KUBECONFIG),,jaeger)
TOOLS_PLATFORM := python helm kubeconform schemas checkov tflint tofu

.PHONY: test
test: tools build ## Run every tier below (unit, lint, e2e, cluster, platform) in one tap run and print "N passed, N failed"; FILES="a.test.ts b.test.ts" runs only those, on Node 24
	node scripts/cluster/main.ts build
	node scripts/test.mjs $(FILES)

.PHONY: test-unit
test-unit: build $(call tool_files,$(TOOLS_UNIT)) ## Runtime, example, deploy scripts and chart render tests: no Go builds at test time, about a minute
	node scripts/test.mjs $(TEST_UNIT)

.PHONY: lint
lint: deps $(call tool_files,$(TOOLS_LINT)) ## Type-check, linters and scanners (tsc, actionlint, shellcheck, hadolint, kubeconform, promtool, checkov, trivy, secret scan), tool pins
	node scripts/test.mjs $(TEST_LINT)

.PHONY: test-e2e
test-e2e: build $(call tool_files,$(TOOLS_E2E)) ## The function behind Knative's queue-proxy with moto, Jaeger and Prometheus (the local stack of make dev)
	node scripts/test.mjs $(TEST_E2E)

.PHONY: test-cluster
test-cluster: build $(call tool_files,$(TOOLS_CLUSTER)) ## Run the cluster suite alone (starts and stops a local cluster; CLUSTER_KUBECONFIG=... points it at another)
	$(if $(CLUSTER_KUBECONFIG),,node scripts/cluster/main.ts build)
	node scripts/test.mjs $(TEST_CLUSTER)

.PHONY: test-platform
test-platform: deps $(call tool_files,$(TOOLS_PLATFORM)) ## OpenTofu validate/test, tflint, checkov, policy and Knative validation of the platform and the chart
	node scripts/test.mjs $(TEST_PLATFORM)

# Prints "TIER: files" per tier, for scripts/test/tiers.test.ts.
.PHONY: list-test-tiers
list-test-tiers:
	@$(foreach tier,$(TEST_TIERS),echo '$(tier): $(TEST_$(tier))';)

##@ Chart

CHART_SCENARIO ?= dev

.PHONY: chart-test
chart-test: $(call tool_files,helm helm-unittest kubeconform schemas prometheus checkov) ## Validate the Helm chart alone: lint, helm-unittest suites, kubeconform, Knative's own validation, promtool, checkov
	tap chart/test/*.test.ts

.PHONY: chart-render
chart-render: ## Print the chart rendered with the function's values.yaml, then chart/ci/$(CHART_SCENARIO)-values.yaml (or platform/envs/$(CHART_SCENARIO)/function-values.yaml) and a placeholder image
	bin/helm template knative-fn chart --namespace functions --kube-version "$$(node -p 'require("./platform/versions.json").kubernetes.version')" \
	  -f chart/test/fixtures/image-values.yaml $(if $(wildcard $(FUNCTION)/values.yaml),-f $(FUNCTION)/values.yaml) \
	  $(if $(wildcard platform/envs/$(CHART_SCENARIO)/function-values.yaml),-f platform/envs/$(CHART_SCENARIO)/function-values.yaml -f chart/test/fixtures/platform-values.yaml,-f chart/ci/$(CHART_SCENARIO)-values.yaml)

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
bench: build ## Benchmark the function against bare Fastify: cold start, RSS, req/s, p99, payload, machine load; writes bench-results.json (BENCH_DIST=dir BENCH_PATH=/path; installs wrk with apt-get if missing)
	scripts/bench/run.sh $(if $(BENCH_DIST),--dist '$(BENCH_DIST)') $(if $(BENCH_PATH),--path '$(BENCH_PATH)')

##@ Reliability

SOAK_SECONDS ?= 600

.PHONY: soak
soak: tools build ## Soak the function behind queue-proxy at 70% of its measured max rate for SOAK_SECONDS (default 600): errors, p99 drift, RSS growth, event-loop lag
	SOAK_SECONDS='$(SOAK_SECONDS)' node scripts/soak/main.ts
