# The only entry points. Each target sets up what it needs, idempotently.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
UV     := $(BIN)/uv

.PHONY: help setup sdk run test test-unit lint bench bench-quick package generate clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

# The venv is rebuilt only when the lock or the project metadata change.
$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11) on PATH"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check uv==0.13.8
	@$(UV) pip install -q --python $(BIN)/python -r requirements.lock
	@$(UV) pip install -q --python $(BIN)/python --no-deps -e .
	@touch $@

# Front-end dependencies, from the lock file, only when it changes.
SDK       := web/sdk
SDK_STAMP := $(SDK)/node_modules/.installed
$(SDK_STAMP): $(SDK)/package-lock.json
	@command -v npm >/dev/null || { echo "need Node.js 20 and npm on PATH (Debian: apt-get install nodejs npm)"; exit 1; }
	@npm ci --prefix $(SDK) --no-audit --no-fund --loglevel=error
	@touch $@

SDK_BUNDLE := $(SDK)/dist/clickstream.min.js
$(SDK_BUNDLE): $(SDK_STAMP) $(wildcard $(SDK)/src/*.ts) $(SDK)/build.mjs
	@npm --prefix $(SDK) run --silent build

# Browser tests drive Debian's Chromium (Playwright cannot download browsers here).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "need Chromium at $(CHROMIUM) for the browser tests"; exit 1; }
	@echo "installing Debian's chromium for the browser tests"
	@$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null
# The EC2 setup script is checked with shellcheck.
SHELLCHECK := /usr/bin/shellcheck
$(SHELLCHECK):
	@DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq shellcheck >/dev/null || \
		{ $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq shellcheck >/dev/null; }
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

setup: $(STAMP) $(SDK_STAMP) $(SDK_BUNDLE)  ## install the pinned Python and npm dependencies, build the SDK

sdk: $(SDK_STAMP)  ## build the browser SDK (prints its minified and gzipped size)
	npm --prefix $(SDK) run build

run: setup  ## run the whole system locally, with 3 days of demo data on first start (Ctrl-C stops it)
	$(BIN)/clickstream local up --seed-days 3

test: setup $(CHROMIUM) $(SHELLCHECK)  ## run every test
	$(BIN)/python -m pytest
	npm --prefix $(SDK) test

test-unit: setup  ## unit tests only (no servers)
	$(BIN)/python -m pytest tests/unit tests/contract
	npm --prefix $(SDK) test

# checkov pins an old boto3, so it lives in its own venv.
CHECKOV := .venv-checkov/bin/checkov
$(CHECKOV): infra/requirements-checkov.txt
	@test -x .venv-checkov/bin/python || $(PYTHON) -m venv .venv-checkov
	@.venv-checkov/bin/python -m pip install -q --disable-pip-version-check -r infra/requirements-checkov.txt
	@touch $@

lint: setup $(CHECKOV)  ## ruff, terraform fmt, checkov (0 failed checks), contract tests
	$(BIN)/ruff check src tasks tests scripts
	$(BIN)/python infra/scripts/tf_fmt.py
	BC_SKIP_MAPPING=TRUE $(CHECKOV) --config-file infra/.checkov.yaml
	$(BIN)/python -m pytest -q tests/contract

bench-quick: setup  ## benchmarks in under 2 minutes (ETL 100 k events, floor, naive peer, ingest, SDK, cost)
	$(BIN)/python -m bench quick

bench: setup  ## full benchmarks: ETL at 100 k / 300 k / 1 M events with floor and naive peer, ingest, SDK, cost (~7 min; ~13 the first time)
	$(BIN)/python -m bench full

package: setup  ## Lambda zips and the ETL's container-image build context into dist/lambda/ (what Terraform deploys)
	$(BIN)/python scripts/package_lambdas.py

generate: setup  ## rebuild generated documents (OpenAPI, JSON Schemas, README tables)
	$(BIN)/python -m clickstream.gendocs

clean:  ## remove the venv and local state
	rm -rf $(VENV) .local .pytest_cache
