# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

WEB_ASSETS := slob_cli/web/assets
CHART_JS := $(WEB_ASSETS)/node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js

.PHONY: demo test install bench clean lint web-assets browser

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Error: $(PYTHON) not found; set PYTHON=python3.x (>= 3.11)"; exit 3; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# The web dashboard's chart library, from the npm registry (pinned by package-lock.json).
$(CHART_JS): $(WEB_ASSETS)/package.json $(WEB_ASSETS)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "Error: npm not found; install Node.js and npm for slob web's chart library"; exit 3; }
	cd $(WEB_ASSETS) && npm ci --no-audit --no-fund
	@touch $@

web-assets: $(CHART_JS)

# Debian's chromium for the browser tests (tests/web skip, saying so, when it cannot be installed).
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update && apt-get install -y chromium) \
		|| echo "warning: could not install Debian's chromium; the browser tests will be skipped"

install: $(STAMP) web-assets

demo: $(STAMP)
	rm -f demo.db demo.db-wal demo.db-shm
	$(BIN)/slob --db demo.db run --sim --seed 7 --scenario both_setups

# Static checks: ruff (rules in pyproject.toml) and mypy (strict on core/, checked on the rest).
lint: $(STAMP)
	$(BIN)/python -m ruff check slob_cli tests bench
	$(BIN)/python -m mypy

test: $(STAMP) lint browser
	@$(MAKE) --no-print-directory web-assets || echo "warning: no chart library; the web tests will be skipped"
	$(BIN)/python -m pytest -n auto

bench: $(STAMP) web-assets browser
	$(BIN)/python bench/aggregate.py
	$(BIN)/python bench/tracker.py
	$(BIN)/python bench/tracking.py
	$(BIN)/python bench/operations.py
	$(BIN)/python bench/refresh_reads.py
	$(BIN)/python bench/gateway.py
	$(BIN)/python bench/sim_day.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/track_command.py

clean:
	rm -rf $(VENV) demo.db demo.db-wal demo.db-shm .pytest_cache $(WEB_ASSETS)/node_modules test-artifacts
