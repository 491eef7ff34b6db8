# The two commands of the README: `make run` and `make test`. Both set up .venv first.

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
LINT := monitor tests storage/plugins $(wildcard benchmarks)

.PHONY: run test setup setup-test lint format bench clean

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "Error: Python 3.11 or newer is needed (python3.11+ on PATH)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

setup: $(VENV)/.installed

setup-test: $(VENV)/.installed-test
	@.ci/browser

run: setup
	$(BIN)/monitor run

test: setup-test
	$(BIN)/ruff format --check $(LINT)
	$(BIN)/ruff check $(LINT)
	$(BIN)/python -m pytest

lint: setup-test
	$(BIN)/ruff format $(LINT)
	$(BIN)/ruff check --fix $(LINT)

bench: setup-test
	$(BIN)/python benchmarks/crawl.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache tests/artifacts
