# The two commands of the README: `make run` and `make test`. Both set up .venv first.

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
LINT := monitor tests storage/plugins $(wildcard benchmarks)

.PHONY: run test setup setup-test bytecode lint format bench eval clean

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "Error: Python 3.11 or newer is needed (python3.11+ on PATH)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

setup: $(VENV)/.installed bytecode

setup-test: $(VENV)/.installed-test bytecode
	@.ci/browser

# Every crawl is a new process that imports the project: compile it once here, as Python does not
# when PYTHONDONTWRITEBYTECODE is set (about 0.1 s less start-up per crawl).
bytecode: $(VENV)/.installed
	@$(BIN)/python -m compileall -q monitor storage/plugins >/dev/null

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

# Quality on labeled real texts and pages, read by path (../shared/eval/, not part of the
# project); appends the figures to BENCHMARKS.md.
eval: setup-test
	$(BIN)/python benchmarks/eval_topics.py
	$(BIN)/python benchmarks/eval_extraction.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache tests/artifacts
