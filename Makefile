# Two commands do all the set-up on a fresh Debian machine with Python 3.11+:
#   make run   - install into .venv and start the product on its embedded default
#   make test  - install and run the whole test suite
# System packages the browser, PDF and storage tests use (Chromium, Pango, Node.js, Redis,
# PostgreSQL) are installed by .ci/run; without them those tests skip with a visible reason.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
AXE    := tests/browser/node_modules/.installed

.PHONY: run test test-sandbox bench lint install clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,demo]'
	@touch $(STAMP)

# axe-core for the accessibility checks (npm package, pinned by package-lock.json).
$(AXE): tests/browser/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --silent --no-audit --no-fund --prefix tests/browser && touch $(AXE); \
	else echo "npm not found: accessibility checks will be skipped (install nodejs and npm)"; fi

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/ppact demo

test: $(STAMP) $(AXE)
	$(PY) -m pytest

test-sandbox: $(STAMP)
	$(PY) -m pytest -m sandbox

bench: $(STAMP)
	$(PY) benchmarks/run.py

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache tests/browser/node_modules test-artifacts
