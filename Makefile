PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_STAMP := $(VENV)/.installed-demo
STAMP := $(VENV)/.installed
PYTEST := $(BIN)/pytest -n 2 -q --durations=25

.PHONY: install install-demo demo test test-fast lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The demo needs the package and its runtime dependencies only (torch pinned: its CPU wheel).
$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e .
	touch $(DEMO_STAMP)

# The tests add the extras: dev tools, freqtrade and Ray.
$(STAMP): $(DEMO_STAMP)
	$(BIN)/pip install --quiet -e '.[dev,freqtrade,ray]'
	touch $(STAMP)

install-demo: $(DEMO_STAMP)

install: $(STAMP)

demo: install-demo
	$(BIN)/ai-engine demo

# Every test, the slow end-to-end ones included; the 25 slowest are listed at the end.
test: install
	$(PYTEST)

# The edit loop: everything but the tests marked slow (pyproject.toml [tool.pytest.ini_options]).
test-fast: install
	$(PYTEST) -m "not slow"

lint: install
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/mypy

clean:
	rm -rf $(VENV) registry .pytest_cache .mypy_cache .ruff_cache
