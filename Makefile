# One entry point for people and CI. Every target installs what it needs (venv, pip, npm ci) first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
CDK := node_modules/.bin/cdk
# jsii (aws-cdk-lib's runtime bridge) prints a long banner on Node 20; the project supports Node >= 20.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
PORT ?= 3000
SCOPES ?=
STAGE ?=
# Deploy-time overrides, e.g. make deploy ISSUER=https://idp.example.com/ AUDIENCE=api://orders
ISSUER ?=
AUDIENCE ?=
CDK_CONTEXT := $(if $(ISSUER),-c issuer=$(ISSUER)) $(if $(AUDIENCE),-c audience=$(AUDIENCE)) $(if $(STAGE),-c stage=$(STAGE))

.PHONY: setup synth test lint types deploy diff bootstrap local token bench clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt lambda_src/authorizer/requirements.txt constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python >= 3.11 is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check --quiet -r requirements-dev.txt -c constraints.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	@node -e 'process.exit(+process.versions.node.split(".")[0] < 20 ? 1 : 0)' || (echo "Node.js >= 20 is required" >&2; exit 1)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

synth: setup
	$(CDK) synth --quiet $(CDK_CONTEXT)
	@echo "Template written to cdk.out/"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: setup
	$(BIN)/mypy app.py stacks ops lambda_src/authorizer tests bench local
	$(BIN)/mypy lambda_src/hello

test: lint types
	$(BIN)/pytest

bootstrap: setup
	$(CDK) bootstrap $(CDK_CONTEXT)

diff: setup
	$(CDK) diff $(CDK_CONTEXT)

deploy: setup
	$(CDK) deploy $(CDK_CONTEXT)

local: synth
	PORT=$(PORT) $(PY) -m local

token: setup
	@$(PY) -m local.token --scopes "$(SCOPES)"

bench/node_modules/.installed: bench/package.json bench/package-lock.json
	npm ci --prefix bench --no-audit --no-fund --loglevel=error
	@touch $@

bench: setup bench/node_modules/.installed
	$(PY) -m bench --readme README.md

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache
