# skillstream — every job one command. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
KAFKA := infra/kafka/kafka.sh
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install test test-unit lint demo bench chaos kafka-up kafka-down kafka-clean kafka-status clean

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found); set PYTHON=/path/to/python3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	@touch $@

install: $(STAMP) ## create .venv and install skillstream with its dev tools

test: $(STAMP) ## run the whole suite: unit + integration (real Kafka, SQLite, PostgreSQL)
	$(BIN)/pytest $(PYTEST_ARGS)

test-unit: $(STAMP) ## unit tests only (no broker)
	$(BIN)/pytest -m "not integration" $(PYTEST_ARGS)

lint: $(STAMP) ## ruff and mypy (strict on the package)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

demo: $(STAMP) ## run the main job end to end on embedded defaults (local broker, SQLite)
	@bash scripts/demo.sh

bench: $(STAMP) ## measure throughput, latency and recovery against the targets
	@bash scripts/bench.sh

chaos: $(STAMP) ## the long fault-injection runs
	$(BIN)/pytest -m slow --run-slow $(PYTEST_ARGS)

kafka-up: ## fetch (once) and start the local Kafka broker on 127.0.0.1:19092
	@bash $(KAFKA) up

kafka-down: ## stop the local Kafka broker
	@bash $(KAFKA) down

kafka-clean: ## stop the local broker and delete its data
	@bash $(KAFKA) clean

kafka-status: ## is the local broker running?
	@bash $(KAFKA) status

clean: ## remove the virtualenv and local state (not the Kafka jars)
	rm -rf $(VENV) .local/worker .local/*.db .pytest_cache .mypy_cache .ruff_cache
