# Everything runs inside a virtual environment this Makefile creates (./.venv), never the system
# site-packages. `make run` and `make test` are the README quickstart.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint format bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

## run: the demo: a strict provider emulator, a sidecar in front of it, legacy requests replayed
run: $(BIN)/.installed
	$(BIN)/sidecar demo

## test: install the test dependencies and run the whole suite
test: $(BIN)/.installed
	$(BIN)/python -m pytest

## lint: ruff (lint + format), mypy --strict on the package, hadolint on the container image
lint: $(BIN)/.installed
	$(BIN)/ruff check sidecar tests benchmarks
	$(BIN)/ruff format --check sidecar tests benchmarks
	$(BIN)/mypy sidecar
	$(BIN)/hadolint deploy/Dockerfile

format: $(BIN)/.installed
	$(BIN)/ruff check --fix sidecar tests benchmarks
	$(BIN)/ruff format sidecar tests benchmarks

## bench: sidecar vs nginx benchmark suite (needs nginx and wrk: see benchmarks/README.md)
bench: $(BIN)/.installed
	$(BIN)/python -m benchmarks run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
