# One entry point for people and CI. `make help` lists the targets.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
JIGSAW := $(VENV)/bin/jigsaw
# The slowest tests are listed at the end of every run, to keep the suite inside its budget.
PYTEST_ARGS ?= --durations=25
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv demo test lint bench image kafka-up kafka-down clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed ## Create .venv and install the package with its dev extra

demo: venv ## The main job: run Jigsaw on the embedded defaults (ARGS=--once to run and exit)
	$(JIGSAW) demo $(ARGS)

# Kafka and PostgreSQL are stopped whether or not the tests pass (or PostgreSQL starts); the suite's exit
# status is kept.
test: venv ## Start a real local Kafka and PostgreSQL, run the whole suite, stop them
	$(JIGSAW) kafka up
	status=0; \
	if $(JIGSAW) pg up; then $(PY) -m pytest -v $(PYTEST_ARGS) || status=$$?; else status=$$?; fi; \
	$(JIGSAW) pg down; \
	$(JIGSAW) kafka down; \
	exit $$status

lint: venv ## ruff (format and check) and mypy --strict on the package code
	$(VENV)/bin/ruff format --check jigsaw services connectors town apps devkit tests bench
	$(VENV)/bin/ruff check jigsaw services connectors town apps devkit tests bench
	$(VENV)/bin/mypy jigsaw services connectors town apps devkit
	$(VENV)/bin/lint-imports

# The targets come last: they read what the benchmarks before them wrote, and leave out older files.
bench: venv ## Run the benchmarks (about 20 minutes), print their tables, then the targets; results in bench/results/
	$(JIGSAW) kafka up
	status=0; start=$$(date +%s); \
	for b in envelope broker e2e scale transport cluster; do echo "== $(PY) -m bench.$$b"; $(PY) -m bench.$$b || status=$$?; done; \
	echo "== $(PY) -m bench.targets"; $(PY) -m bench.targets --since $$start || status=$$?; \
	echo "== make bench: $$(( $$(date +%s) - start )) s"; exit $$status

image: venv ## Build the container image with buildah from a Debian base (about 2 minutes; docs/deploy.md)
	$(PY) -m devkit.image

kafka-up: venv ## Start the local Kafka (idempotent)
	$(JIGSAW) kafka up

kafka-down: venv ## Stop the local Kafka
	$(JIGSAW) kafka down

clean: ## Stop Kafka and PostgreSQL and remove the venv, runtime state and caches (not the jar cache)
	-$(JIGSAW) kafka down --purge
	-$(JIGSAW) pg down --purge
	rm -rf $(VENV) .jigsaw .pytest_cache .mypy_cache .ruff_cache
