# One entry point for people and CI. `make synth` and `make test` work on a fresh machine:
# they create the virtualenv and node_modules when missing or out of date.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CDK := node_modules/.bin/cdk
ENV ?=
OUT := cdk.out
# Every package of lambda_src/ (each function's code, and shared/), for mypy.
LAMBDA_PACKAGES := $(patsubst lambda_src/%/__init__.py,%,$(wildcard lambda_src/*/__init__.py))

# Node 20 prints an end-of-life banner from every jsii process; it is noise here.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup synth test lint unit browser cfn-lint checkov deploy diff destroy snapshots clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# The second install puts the `ops` command in $(BIN): this checkout, editable (pyproject.toml),
# without dependencies (they are the pins of the first).
$(BIN)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(BIN)/.installed node_modules/.installed  ## Create/refresh the virtualenv and the pinned CDK CLI

synth: setup  ## Synthesize every environment through the cdk-nag gate
	rm -rf $(OUT)
	$(CDK) synth --quiet --output $(OUT) $(if $(ENV),--context env=$(ENV))
	@echo "Templates (cdk-nag: AwsSolutions, Serverless, NIST 800-53 R5 - no unacknowledged findings):"
	@ls -1 $(OUT)/*.template.json | sed 's/^/  /'

lint: setup  ## ruff (lint + format check) and mypy (strict) on stacks, ops, app.py and lambda_src
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy stacks ops app.py
	$(BIN)/mypy $(addprefix -p ,$(LAMBDA_PACKAGES))

unit: setup browser  ## The pytest suite (one worker per core; each module stays on one worker)
	$(BIN)/pytest --numprocesses=auto --dist=loadfile

BROWSER_PACKAGES := chromium chromium-driver fonts-ipafont-gothic fonts-noto-color-emoji

browser:  ## Chromium for tests/browser: installed from Debian's packages when missing (as root)
	@command -v $${CHROMIUM:-chromium} >/dev/null && command -v $${CHROMEDRIVER:-chromedriver} >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES); \
	  else \
	    echo "tests/browser needs Chromium and its driver: sudo apt-get install $(BROWSER_PACKAGES)" \
	      "(Debian/Ubuntu; make test installs them itself when run as root)" >&2; exit 1; \
	  fi; }

cfn-lint: synth  ## cfn-lint on the synthesized templates (.cfnlintrc names each ignored rule and why)
	$(BIN)/cfn-lint $(OUT)/*.template.json

# checkov lives in its own virtualenv: its pins conflict with this project's boto3.
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
# The stacks of the isolated environment whose templates checkov checks (CKV_AWS_117:
# functions in a VPC): the construct-id prefix of its stacks, Prod for prod.
CHECKOV_STACKS ?= Prod

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

checkov: synth $(CHECKOV_VENV)/.installed  ## checkov (own virtualenv, pinned) on the isolated environment's templates
	$(CHECKOV) --config-file .checkov.yaml --file $(OUT)/$(CHECKOV_STACKS)*.template.json

test: lint unit cfn-lint checkov  ## Everything CI runs: lint, types, tests, synth + gate, cfn-lint, checkov

deploy: synth  ## Deploy one environment: make deploy ENV=dev
	@test -n "$(ENV)" || { echo "usage: make deploy ENV=<environment>"; exit 2; }
	$(CDK) deploy --app $(OUT) --all --require-approval broadening

diff: setup  ## Show what a deploy would change: make diff ENV=prod
	@test -n "$(ENV)" || { echo "usage: make diff ENV=<environment>"; exit 2; }
	$(CDK) diff --all --context env=$(ENV)

destroy: setup  ## Stop what bills outside the stacks (ops teardown), then delete the stacks: make destroy ENV=dev [YES=1]
	@test -n "$(ENV)" || { echo "usage: make destroy ENV=<environment> [YES=1]"; exit 2; }
	$(BIN)/ops teardown --env $(ENV) $(if $(YES),--yes)
	$(CDK) destroy --all --context env=$(ENV) $(if $(YES),--force)

snapshots: setup  ## Re-record template snapshots after an intended change; review the diff
	$(BIN)/pytest tests/infra --snapshot-update

clean:  ## Remove generated files (keeps the virtualenv and node_modules)
	rm -rf $(OUT) .pytest_cache .mypy_cache .ruff_cache
