# One entry point for people and CI. Every target installs what it needs (venv, pip, npm ci) first.
# `make` alone (or `make help`) lists the targets; a target's `## ` comment is its line in that list.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
CDK := node_modules/.bin/cdk
# Node 20 is what this project is tested on. jsii (aws-cdk-lib's runtime bridge) considers Node 20 end-of-life
# since 2026-10-30 and prints a long banner on every run; it is silenced here, for every target. Node 22 and 24
# are supported by jsii (no banner) but not tested here.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
PORT ?= 3000
SCOPES ?=
STAGE ?=
# Deploy-time overrides, e.g. make deploy ISSUER=https://idp.example.com/ AUDIENCE=api://orders
ISSUER ?=
AUDIENCE ?=
# Any other context, passed to the cdk command line as written (shell quoting applies), e.g.
# make synth CONTEXT='-c preset=okta -c oktaDomain=acme.okta.com -c oktaAuthServerId=default -c audience=api://default'
CONTEXT ?=
CDK_CONTEXT := $(if $(ISSUER),-c issuer=$(ISSUER)) $(if $(AUDIENCE),-c audience=$(AUDIENCE)) $(if $(STAGE),-c stage=$(STAGE)) $(CONTEXT)
# make token asks the local API on PORT only when PORT is given (else the one running local API).
TOKEN_PORT := $(if $(filter-out default file,$(origin PORT)),--port $(PORT))
# Issue 12 (local/README.md): make local MTLS=1 serves HTTPS with client certificates; make token DPOP=1
# [METHOD=GET URL=...] prints DPoP headers, make token MTLS=1 [CLIENT_CERT=name] a certificate-bound token.
LOCAL_FLAGS := $(if $(MTLS),--mtls)
TOKEN_FLAGS := $(if $(DPOP),--dpop) $(if $(MTLS),--mtls) $(if $(METHOD),--method '$(METHOD)') $(if $(URL),--url '$(URL)') $(if $(CLIENT_CERT),--client-cert '$(CLIENT_CERT)')

.PHONY: help setup synth test lint types deploy diff bootstrap local token bench compare clean snapshot-keys

help: ## List the targets
	@echo "Usage: make TARGET [STAGE=name] [ISSUER=url AUDIENCE=aud] [CONTEXT='-c key=value ...'] [PORT=3000]"
	@echo
	@awk 'BEGIN { FS = ":[^#]*## " } /^[a-z][a-z-]*:[^#]*## / { printf "  %-14s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

setup: $(VENV)/.installed node_modules/.installed ## Install the pinned Python venv and node_modules (every target does it first)

$(VENV)/.installed: requirements.txt requirements-dev.txt lambda_src/authorizer/requirements.txt constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python >= 3.11 is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check --quiet -r requirements-dev.txt -c constraints.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	@node -e 'process.exit(+process.versions.node.split(".")[0] < 20 ? 1 : 0)' || (echo "Node.js >= 20 is required" >&2; exit 1)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

synth: setup ## Synthesize the stack into cdk.out/ (STAGE, ISSUER, AUDIENCE, CONTEXT)
	$(CDK) synth --quiet $(CDK_CONTEXT)
	@echo "Template written to cdk.out/"

lint: setup ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: setup ## mypy --strict
	$(BIN)/mypy app.py stacks ops lambda_src/authorizer tests bench local compare
	$(BIN)/mypy lambda_src/hello
	$(BIN)/mypy lambda_src/key_refresher

test: lint types ## The whole gate, as CI runs it: lint, types, every test
	$(BIN)/pytest

bootstrap: setup ## cdk bootstrap, once per account and region (your AWS credentials')
	$(CDK) bootstrap $(CDK_CONTEXT)

diff: setup ## cdk diff: what deploy would change (STAGE, ISSUER, AUDIENCE, CONTEXT)
	$(CDK) diff $(CDK_CONTEXT)

deploy: setup ## cdk deploy the stage (STAGE, ISSUER, AUDIENCE, CONTEXT)
	$(CDK) deploy $(CDK_CONTEXT)

snapshot-keys: setup ## Write the issuers' public keys to the jwksSnapshot file now (STAGE, CONTEXT)
	$(PY) -m ops.snapshot_keys $(CDK_CONTEXT)

local: synth ## Serve the stack on http://127.0.0.1:PORT with a development issuer (default 3000; MTLS=1: https + client certificates)
	PORT=$(PORT) $(PY) -m local $(LOCAL_FLAGS)

token: setup ## Print an access token for the local API (SCOPES="a b", PORT= when several run; DPOP=1, MTLS=1: bound)
	@$(PY) -m local.token $(TOKEN_PORT) --scopes "$(SCOPES)" $(TOKEN_FLAGS)

bench/node_modules/.installed: bench/package.json bench/package-lock.json
	npm ci --prefix bench --no-audit --no-fund --loglevel=error
	@touch $@

bench: setup bench/node_modules/.installed ## Run the benchmarks; rewrites docs/benchmarks.md's summary
	$(PY) -m bench --readme docs/benchmarks.md

compare: setup ## Run the hostile corpus through the Lambda gate and the native model; rewrites docs/native-vs-lambda.md
	$(PY) -m compare --out docs/native-vs-lambda.md

clean: ## Remove cdk.out and the tool caches
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache
