# Steward developer commands. Needs only Python 3.11+ on the machine: everything
# else is installed into .venv by `make install` (which every target runs first).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# pip runs again only when pyproject.toml changes; assets are fetched each time
# (the fetcher skips files it already has).
STAMP := $(VENV)/.installed
CHROMIUM ?= /usr/bin/chromium
# Extra pytest arguments, e.g. `make test PYTEST_ARGS="-k audit -x"`.
PYTEST_ARGS ?=
# BROWSER=0 skips the tests that drive Chromium (for machines without it).
BROWSER ?= 1
ifeq ($(BROWSER),0)
BROWSER_ARGS := -m "not browser"
endif

.PHONY: help install demo test bench lint format clean

help:
	@echo "make demo     install, migrate, seed demo users, run web + worker + beat (Ctrl-C stops all)"
	@echo "make test     install and run the whole test suite (browser tests need $(CHROMIUM))"
	@echo "make bench    run every bench/*_bench.py, results as JSON under bench/results/"
	@echo "make lint     ruff check and ruff format --check"
	@echo "make format   ruff format and ruff check --fix"
	@echo "make install  create .venv and install Steward with its dev tools and front-end assets"
	@echo "make clean    remove .venv, var/, caches and collected files"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(STAMP)
	$(BIN)/python tools/fetch_assets.py

demo: install
	$(BIN)/python tools/demo.py

test: install
	@if [ "$(BROWSER)" != 0 ] && [ ! -x "$(CHROMIUM)" ]; then \
		echo "Chromium not found at $(CHROMIUM): browser tests need it (apt-get install chromium, or make test BROWSER=0)." >&2; \
		exit 1; \
	fi
	$(BIN)/pytest $(BROWSER_ARGS) $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/run.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var static/vendor bench/results .pytest_cache .ruff_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
