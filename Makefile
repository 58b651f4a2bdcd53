# skillstream — every job one command. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements/lock.txt
RUNTIME_LOCK := requirements/runtime.txt
KAFKA := infra/kafka/kafka.sh
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install lock test test-unit test-compiled test-compiled-integration test-pythons compile lint demo bench chaos kafka-up kafka-down kafka-clean kafka-status clean

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml $(LOCK)
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11, 3.12 or 3.13 is required ($(PYTHON) not found); set PYTHON=/path/to/python3.x" >&2; exit 1; }
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --require-hashes -r $(LOCK)
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/pip check --disable-pip-version-check
	@touch $@

install: $(STAMP) ## create .venv: the exact versions of requirements/lock.txt, then skillstream

lock: $(STAMP) ## refresh the lock files to the newest versions pyproject.toml's ranges allow
	$(BIN)/uv pip compile pyproject.toml requirements/build.in --extra dev --universal \
	  --python-version 3.11 --generate-hashes --upgrade --quiet -o $(LOCK)
	$(BIN)/uv pip compile pyproject.toml requirements/build.in --extra postgres --universal \
	  --python-version 3.11 --generate-hashes --constraint $(LOCK) --quiet -o $(RUNTIME_LOCK)
	@echo "$(LOCK) and $(RUNTIME_LOCK) refreshed; 'make install' re-creates .venv from them"

test: $(STAMP) ## run the whole suite: unit + integration (real Kafka, SQLite, PostgreSQL)
	$(BIN)/pytest $(PYTEST_ARGS)

test-unit: $(STAMP) ## unit tests only (no broker)
	$(BIN)/pytest -m "not integration" $(PYTEST_ARGS)

compile: $(STAMP) ## build the hot modules with mypyc, and the Rust fast path (native/) when cargo is there (optional; needs a C compiler)
	$(BIN)/python -m tools.compile_core

test-compiled: compile ## the unit suite on the compiled core (make compile), as CI runs it
	SKILLSTREAM_EXPECT_COMPILED=1 $(BIN)/pytest -m "not integration" $(PYTEST_ARGS)

test-compiled-integration: compile ## the integration suite on the compiled core and the native ingest (real Kafka), as CI runs it
	SKILLSTREAM_EXPECT_COMPILED=1 $(BIN)/pytest -m integration $(PYTEST_ARGS)

test-pythons: ## the unit suite on Python 3.12 and 3.13 (.venv-3.12, .venv-3.13; missing ones reported)
	@bash scripts/test-pythons.sh

lint: $(STAMP) ## ruff, mypy (strict on the package), the import direction (lint-imports), rustfmt and clippy on native/
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	@if cargo fmt --version >/dev/null 2>&1 && cargo clippy --version >/dev/null 2>&1; then \
	  cargo fmt --check --manifest-path native/Cargo.toml && \
	  PYO3_PYTHON=$(CURDIR)/$(BIN)/python cargo clippy --quiet --locked --release \
	    --manifest-path native/Cargo.toml \
	    --target-dir build/native-target -- -D warnings; \
	else echo "no cargo fmt or clippy here: native/ not linted"; fi

demo: $(STAMP) ## run the main job end to end on embedded defaults (local broker, SQLite)
	@bash scripts/demo.sh

bench: $(STAMP) ## measure throughput, latency and recovery against the targets (compiled core)
	@$(BIN)/python -m tools.compile_core || echo "bench: no compiled core; measuring the pure-Python one"
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
	rm -rf $(VENV) .venv-3.* build/compiled-core build/compiled-core-work build/native-target .local/worker .local/*.db .pytest_cache .mypy_cache .ruff_cache
