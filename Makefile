# Two commands on a fresh machine: `make dev` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
PORT   ?= 8000
BIN    := $(VENV)/bin
# torch's CPU build, from PyTorch's CPU wheel index: PyPI's Linux wheel is the CUDA build, gigabytes more.
# GPU workers, in a new venv (an installed torch 2.13.0 meets the pin): `make install TORCH_INDEX=` takes the
# default index's build (CUDA on Linux x86_64), or name one CUDA version's index
# (TORCH_INDEX=https://download.pytorch.org/whl/cu128).
TORCH_VERSION ?= 2.13.0
TORCH_INDEX   ?= https://download.pytorch.org/whl/cpu

.PHONY: dev test lint install install-test install-lint browser wrk screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Re-installs when pyproject.toml changes; the stamp files keep repeated runs fast.
# The API alone is `pip install .`; here everything, the workers' `worker` extra too. torch comes first so
# that the extra's range keeps it. An index that does not answer fails within seconds (--timeout 5
# --retries 0) and the same pin then comes from the default index. --isolated: that index alone, not the
# user's extra indexes or find-links (the global pip.conf, say a proxy or CA, still applies).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@if [ -z "$(TORCH_INDEX)" ]; then $(BIN)/pip install --quiet torch==$(TORCH_VERSION); \
	elif ! $(BIN)/pip install --quiet --isolated --timeout 5 --retries 0 --index-url "$(TORCH_INDEX)" \
	    torch==$(TORCH_VERSION) >/dev/null 2>&1; then \
	  echo "torch: $(TORCH_INDEX) did not answer; falling back to torch==$(TORCH_VERSION) from the default index"; \
	  $(BIN)/pip install --quiet torch==$(TORCH_VERSION); fi
	$(BIN)/pip install --quiet -e '.[worker]'
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[worker,test]'
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

# Debian's wrk for the HTTP benchmarks (bench/); `make test` does not need it.
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null; fi; }

# TEST_WORKERS pytest processes (pytest-xdist; 0 runs in this one). Most tests wait on the real processes
# they start, so four keep two cores busy. Each has its own private Redis and PostgreSQL database.
TEST_WORKERS ?= 4
test: install-test browser
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

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
