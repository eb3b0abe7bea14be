# queue-autoscaler: every command installs what it needs into .venv first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
MUTATION_VENV := .venv-mutation
MUTATION_STAMP := $(MUTATION_VENV)/.installed
MUTATION_JOBS ?= 2
MUTATION_FAIL_UNDER ?= 85
PYTEST_ARGS ?=

# Nothing here may call a real AWS endpoint: fake credentials, no instance metadata look-ups.
export AWS_ACCESS_KEY_ID ?= testing
export AWS_SECRET_ACCESS_KEY ?= testing
export AWS_SESSION_TOKEN ?= testing
export AWS_DEFAULT_REGION ?= us-east-1
export AWS_EC2_METADATA_DISABLED := true
export SAM_CLI_TELEMETRY := 0

.DEFAULT_GOAL := help
.PHONY: help install test check lint typecheck cfn-lint checkov iam-lint unit mutation demo demo-doc bench bench-worker build validate clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# checkov pins an old boto3, so it lives in its own environment.
$(CHECKOV_STAMP):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet 'checkov>=3.2'
	touch $@

install: $(STAMP) $(CHECKOV_STAMP) ## create .venv (and .venv-checkov) with everything the project needs

lint: $(STAMP) ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP) ## mypy (strict)
	$(BIN)/mypy src worker qas benchmarks lint

cfn-lint: $(STAMP) ## cfn-lint the template
	@if [ -f template.yaml ]; then $(BIN)/cfn-lint template.yaml; fi

checkov: $(CHECKOV_STAMP) ## security scan of the template (checkov, in its own environment)
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov -f template.yaml --framework cloudformation --skip-download --compact --quiet

iam-lint: $(STAMP) ## parliament on every IAM policy of the translated template (skips explained in the script)
	$(BIN)/python lint/iam_parliament.py

check: lint typecheck cfn-lint checkov iam-lint ## static checks only

unit: $(STAMP) ## the fast tests only (no moto server, no subprocesses, no SAM CLI)
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

test: install check ## the whole suite: static checks, then every test
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

# mutmut needs a newer click than aws-sam-cli pins, so it lives in its own environment too.
$(MUTATION_STAMP): pyproject.toml
	$(PYTHON) -m venv $(MUTATION_VENV)
	$(MUTATION_VENV)/bin/pip install --quiet --upgrade pip
	$(MUTATION_VENV)/bin/pip install --quiet -e '.[mutation]'
	touch $@

mutation: $(MUTATION_STAMP) ## mutation score of src/queue_autoscaler/scaling and qas/model against the unit tier (minutes; not in `make test`)
	rm -rf mutants && mkdir mutants
	$(MUTATION_VENV)/bin/mutmut run --max-children $(MUTATION_JOBS) > mutants/run.log 2>&1 \
		|| { tail -c 4000 mutants/run.log; exit 1; }
	$(MUTATION_VENV)/bin/python -m tests.mutation --fail-under $(MUTATION_FAIL_UNDER)

demo: $(STAMP) ## the whole system end to end on an emulated AWS (no account needed)
	$(BIN)/qas demo $(DEMO_ARGS)

demo-doc: $(STAMP) ## run the demo with its defaults, then make docs/demo.md's sample run and chart from it
	$(BIN)/qas demo
	$(BIN)/python -m qas.demo.docsample reports/demo

bench: $(STAMP) ## every scaling policy on every scenario; writes reports/bench/
	$(BIN)/qas bench $(BENCH_ARGS)

bench-worker: $(STAMP) ## one worker's throughput and API calls per message at concurrency 1, 4, 16
	$(BIN)/python benchmarks/worker_throughput.py

# sam build needs a python3.13 on PATH for the python3.13 runtime; with pyenv, name one here.
PYENV_VERSION ?= 3.11.7:3.13.0
build: $(STAMP) ## sam build (needs a python3.13 on PATH; pyenv's shims are tried first)
	PATH="$${PYENV_ROOT:-$$HOME/.pyenv}/shims:$$PATH" PYENV_VERSION=$(PYENV_VERSION) $(BIN)/sam build

validate: $(STAMP) ## sam validate --lint
	$(BIN)/sam validate --lint

clean: ## remove build output and reports (keeps .venv)
	rm -rf .aws-sam build dist reports/demo .pytest_cache .mypy_cache .ruff_cache mutants
