# meshdemo: two commands set everything up on a fresh machine.
#   make serve   the guide on http://$(ADDR) (live reload)
#   make test    ruff (lint, format), mypy + the whole test suite (JUnit report in build/junit.xml)
#   make demo    the live demo: the whole guide against a local kind cluster (Docker, kind, kubectl)

PYTHON ?= python3
VENV   ?= .venv
ADDR   ?= 127.0.0.1:8000
BIN    := $(VENV)/bin
# Rewritten whenever pyproject.toml changes, so `pip install` runs once per dependency change.
STAMP  := $(VENV)/.meshdemo-installed

# mkdocs-material prints an end-of-life notice about MkDocs 2 on every run; it is noise here.
export NO_MKDOCS_2_WARNING := 1

.DEFAULT_GOAL := help
.PHONY: help setup serve test demo build check clean distclean

help:
	@echo "make serve   set up, then serve the guide on http://$(ADDR)  (ADDR=host:port)"
	@echo "make test    set up, then ruff, mypy + pytest (report: build/junit.xml)"
	@echo "make demo    set up, then run the whole guide on a local kind cluster"
	@echo "make build   the static site into site/ (mkdocs build --strict)"
	@echo "make check   check the guide's steps without running them (meshdemo check)"
	@echo "make clean   remove site/, build/ and caches (keeps .venv and .meshdemo/)"

# The venv is made by the first Python >= 3.11 found as $(PYTHON); say so plainly if there is none.
$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "error: $(PYTHON) not found; meshdemo needs Python >= 3.11 (set PYTHON=/path/to/python3.11)" >&2; \
	  exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "error: meshdemo needs Python >= 3.11, but $(PYTHON) is $$($(PYTHON) -V 2>&1);" \
	       "set PYTHON=/path/to/python3.11 or newer" >&2; \
	  exit 1; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
	  echo "error: $(PYTHON) cannot create virtual environments (on Debian/Ubuntu: apt-get install python3-venv)" >&2; \
	  exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	@$(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "error: $(VENV) was made with $$($(BIN)/python -V 2>&1); meshdemo needs >= 3.11." \
	       "Remove it (make distclean) and run make again" >&2; \
	  exit 1; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

setup: $(STAMP)

serve: $(STAMP)
	$(BIN)/mkdocs serve --dev-addr $(ADDR)

test: $(STAMP)
	@mkdir -p build
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest --junitxml=build/junit.xml

demo: $(STAMP)
	$(BIN)/meshdemo demo

build: $(STAMP)
	$(BIN)/mkdocs build --strict

check: $(STAMP)
	$(BIN)/meshdemo check

# .meshdemo/ is kept: it holds the private kubeconfig of a demo cluster that may still be running.
clean:
	rm -rf site build .pytest_cache .ruff_cache .mypy_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) *.egg-info
