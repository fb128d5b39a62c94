# camwatch: `make run` (the main job) and `make test` work on a fresh clone; each installs
# what it needs (venv, packages, redis-server) and stops every process it started.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt requirements-torch.txt | sha256sum | cut -c1-12)

.PHONY: help deps venv system run up sweep test lint fmt unit integration e2e bench terraform-check clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt requirements-torch.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt -r requirements-torch.txt
	$(PY) -m shared.devstack.setup
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP) ## create .venv with the pinned runtime and dev packages

system: ## install redis-server (Debian package) if it is missing
	@command -v redis-server >/dev/null || { \
	  echo "installing redis-server with apt-get ..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }
	@command -v redis-server >/dev/null || { echo "error: redis-server is required (apt-get install redis-server)"; exit 1; }

deps: venv system ## everything the local stack and tests need

run: deps ## start the stack, sweep every demo camera through Pub/Sub, print a summary, stop
	$(PY) -m shared.devstack run

up: deps ## start the stack and keep it running (Ctrl-C stops it)
	$(PY) -m shared.devstack up

sweep: venv ## publish a camera-sweep into the stack of `make up` and watch it (CAMERAS="id ...")
	$(PY) -m shared.devstack sweep $(CAMERAS)

lint: venv ## ruff, ruff format, mypy (strict), import-linter (.importlinter), terraform fmt
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-logo
	@$(MAKE) --no-print-directory terraform-check

fmt: venv ## format the code
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
	@command -v terraform >/dev/null && terraform fmt -recursive terraform || true

terraform-check: ## terraform fmt -check (providers cannot be downloaded here: no init/validate)
	@if command -v terraform >/dev/null; then terraform fmt -check -recursive terraform && echo "terraform fmt: ok"; \
	 else echo "terraform not installed: skipping terraform fmt (tests still read the HCL)"; fi

unit: venv ## unit tests (no services)
	$(PY) -m pytest tests/unit -q

integration: deps ## integration tests against real Redis and the emulators
	$(PY) -m pytest tests/integration -q

e2e: deps ## end-to-end tests through functions-framework and the local stack
	$(PY) -m pytest tests/e2e -q

test: deps lint ## lint, then unit, integration and end-to-end tests
	$(PY) -m pytest tests/unit tests/integration tests/e2e -q

bench: deps ## benchmarks: detector per model, process_camera, inference service, torch runtime batching, sweep
	$(PY) -m tests.bench.bench_process
	$(PY) -m tests.bench.bench_service
	$(PY) -m tests.bench.bench_gpu --seconds 3 --clients 1,8,32
	$(PY) -m tests.bench.bench_sweep

clean: ## remove the venv and local stack logs
	rm -rf $(VENV) .stack .mypy_cache .ruff_cache .pytest_cache
