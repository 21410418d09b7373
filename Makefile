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
	npm ci --no-audit --no-fund
	@touch $@

.PHONY: deps
deps: node_modules/.package-lock.json ## Install npm dependencies (npm ci), including Node 24 as a dev dependency

.PHONY: build
build: deps ## Type-check and build the function into dist/
	npm run build

.PHONY: run
run: build ## Run the built function alone on PORT (default 8080), no peers; set SECRETS= to skip Secrets Manager
	npm start

##@ Test

.PHONY: test
test: tools build ## Run every test suite (function, local stack, chart, platform, scripts) and print "N passed, N failed"
	node scripts/test.mjs

##@ Tools

.PHONY: tools
tools: ## Install the pinned tools into ./bin and ./.venv (cached under ~/.cache, keyed by version)
	scripts/tools/install.sh
