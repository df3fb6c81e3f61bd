# Two commands on a fresh machine with Python 3.11+: `make run` (set-up + main job), `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA_DIR ?= data
WAREHOUSE ?= data/warehouse/finops.duckdb
# One Dagster instance for `make dev`, `make run`, `make launch` and the sensors: .dagster_home/ here,
# its dagster.yaml a link to ./dagster.yaml. Your own DAGSTER_HOME (environment or make argument) wins.
DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export DAGSTER_HOME

.PHONY: setup run test dev launch bench sample dagster-home postgres-db ui-check

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(BIN)/.installed

# Creates the project home (only that one: a home of yours is used as it is).
dagster-home:
	@if [ "$(DAGSTER_HOME)" = "$(CURDIR)/.dagster_home" ]; then mkdir -p .dagster_home && \
	  { [ -e .dagster_home/dagster.yaml ] || [ -L .dagster_home/dagster.yaml ] || ln -s ../dagster.yaml .dagster_home/dagster.yaml; }; fi
	@echo "Dagster instance: $(DAGSTER_HOME)"

# The database dagster.postgres.yaml names (DAGSTER_PG_*), created if it does not exist yet.
postgres-db:
	@PGPASSWORD="$$DAGSTER_PG_PASSWORD" psql -h "$$DAGSTER_PG_HOST" -p "$$DAGSTER_PG_PORT" -U "$$DAGSTER_PG_USERNAME" -d postgres -tAc \
	  "select 1 from pg_database where datname = '$$DAGSTER_PG_DB'" | grep -q 1 || \
	  PGPASSWORD="$$DAGSTER_PG_PASSWORD" createdb -h "$$DAGSTER_PG_HOST" -p "$$DAGSTER_PG_PORT" -U "$$DAGSTER_PG_USERNAME" "$$DAGSTER_PG_DB"
	@echo "PostgreSQL database $$DAGSTER_PG_DB on $$DAGSTER_PG_HOST:$$DAGSTER_PG_PORT is there"

run: setup dagster-home
	$(BIN)/finops-assets run --data-dir $(DATA_DIR) --warehouse $(WAREHOUSE)

test: setup
	env -u DAGSTER_HOME $(BIN)/python -m pytest  # the tests make their own instances

dev: setup dagster-home
	$(BIN)/dg dev --host 127.0.0.1

# Headless runs into the same instance, e.g. make launch ARGS='--assets analyst_snapshot'
launch: setup dagster-home
	$(BIN)/dg launch $(ARGS)

bench: setup
	$(BIN)/finops-assets bench --rows $${ROWS:-10000000}

sample: setup
	$(BIN)/finops-assets generate-sample --out $(DATA_DIR) --seed 7

# The UI in headless Chromium (Debian's package): a throwaway dg dev, instance, sample and warehouse
# (data/ and .dagster_home are not touched); PNGs in UI_OUT. See README "Check the UI in a browser".
UI_OUT ?= /tmp/ui-check
ui-check: setup
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || \
	  { echo "ui-check needs Debian's chromium: sudo apt-get install chromium"; exit 1; }
	@$(BIN)/python -c 'import playwright' 2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[dev,ui]'
	$(BIN)/python -m finops_devtools.ui_check --out $(UI_OUT)
