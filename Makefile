# Two commands on a fresh machine: `make dev` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
PORT   ?= 8000
BIN    := $(VENV)/bin
# The CPU build of torch; an unpinned torch would pull gigabytes of CUDA libraries.
TORCH  := torch==2.13.0

.PHONY: dev test lint install install-test install-lint browser screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Re-installs when pyproject.toml changes; the stamp files keep repeated runs fast.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

$(VENV)/.installed-lint: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[lint]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test
install-lint: $(VENV)/.installed-lint

dev: install
	$(BIN)/civility dev --port $(PORT)

# Debian's chromium for the browser tests; Playwright cannot download its own browsers here.
# axe-core (pinned) for their accessibility checks, from npm into $(VENV)/axe; skipped when present.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }
	@grep -qs '"version": "4.10.3"' $(VENV)/axe/node_modules/axe-core/package.json || { \
	  command -v npm >/dev/null 2>&1 || { \
	    if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq npm >/dev/null; \
	    else sudo apt-get update -qq && sudo apt-get install -y -qq npm >/dev/null; fi; }; \
	  npm install --no-save --no-audit --no-fund --silent --prefix $(VENV)/axe axe-core@4.10.3; }

test: install-test browser
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

# Refreshes docs/screenshots/*.png; `make test` writes its screenshots into a temporary folder.
screenshots: install-test browser
	CIVILITY_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
	  $(BIN)/python -m pytest -rs tests/browser/test_screenshots.py

# ruff (style, import order, bugbear) over the code and mypy over the domain package.
lint: install-lint
	$(BIN)/ruff check civility service workers tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var .pytest_cache
