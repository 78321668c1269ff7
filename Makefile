# make test — everything a fresh Debian machine needs (PostgreSQL, Redis, RabbitMQ, Node, Chromium), then the whole suite.
# make run  — the API and a worker on this machine, against local PostgreSQL and Redis (the default broker);
#             the CLI is then .venv/bin/deploy-gate (`. .venv/bin/activate` puts it on the PATH).
# make client — the light client alone (the CLI, no server libraries) in .venv-client, as a build installs it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PRISMA_CLI := tests/interop/prisma-cli
# The schema engine Prisma 7.10.1 pins, its WebAssembly build (tests/interop/prisma7_engine.py).
PRISMA7_ENGINE := tests/interop/prisma7-engine
PYTEST_ARGS ?=

.PHONY: test run install client services prisma-cli prisma7-engine bench-status bench-lint clean

test: install services prisma-cli prisma7-engine
	DEPLOY_GATE_REQUIRE_PRISMA=1 $(BIN)/pytest $(PYTEST_ARGS)

run: install services
	bash scripts/run-dev.sh

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -m venv --help >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq python3-venv)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[server,test]'
	touch $@

client:
	$(PYTHON) -m venv .venv-client
	.venv-client/bin/pip install --quiet --disable-pip-version-check -e .
	@echo "the CLI: .venv-client/bin/deploy-gate"

services:
	bash scripts/ensure-services.sh

prisma-cli: $(PRISMA_CLI)/node_modules/.installed

$(PRISMA_CLI)/node_modules/.installed: $(PRISMA_CLI)/package.json $(PRISMA_CLI)/package-lock.json
	bash scripts/ensure-services.sh node
	npm ci --prefix $(PRISMA_CLI) --no-audit --no-fund --loglevel=error
	touch $@

prisma7-engine: $(PRISMA7_ENGINE)/node_modules/.installed

# --ignore-scripts: @prisma/engines' postinstall downloads the native engine from a host outside
# the registries; only the WebAssembly build inside the prisma package is used.
$(PRISMA7_ENGINE)/node_modules/.installed: $(PRISMA7_ENGINE)/package.json $(PRISMA7_ENGINE)/package-lock.json
	bash scripts/ensure-services.sh node
	npm ci --prefix $(PRISMA7_ENGINE) --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

bench-status: install services prisma-cli
	$(BIN)/python bench/status.py --count 100 --count 1000 --count 5000

bench-lint: install
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[bench]'
	$(BIN)/python bench/lint.py

.PHONY: bench-api
bench-api: install services
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python bench/api.py

.PHONY: bench-recover
bench-recover: install services
	$(BIN)/python bench/recover.py

.PHONY: bench-capacity
bench-capacity: install services
	$(BIN)/python bench/capacity.py

clean:
	rm -rf $(VENV) .venv-client $(PRISMA_CLI)/node_modules $(PRISMA7_ENGINE)/node_modules

# make lint — the quality gate: ruff (lint and format) and mypy, configured in pyproject.toml.
.PHONY: lint
lint: $(VENV)/.installed-lint
	$(BIN)/ruff check service workers tests bench
	$(BIN)/ruff format --check service workers tests bench
	$(BIN)/mypy

$(VENV)/.installed-lint: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[server,test,lint]'
	touch $@

# make console-screenshots — the ops console's pages as tests/browser drives them, saved to docs/console (the README shows two).
.PHONY: console-screenshots
console-screenshots: install services
	DEPLOY_GATE_SCREENSHOTS=docs/console $(BIN)/pytest -m browser tests/browser

.PHONY: bench-console
bench-console: install services
	$(BIN)/python bench/console.py
