# Two commands on a fresh machine with Python 3.11+: `make run` (set-up + main job), `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA_DIR ?= data
WAREHOUSE ?= data/warehouse/finops.duckdb

.PHONY: setup run test dev bench sample

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(BIN)/.installed

run: setup
	$(BIN)/finops-assets run --data-dir $(DATA_DIR) --warehouse $(WAREHOUSE)

test: setup
	$(BIN)/python -m pytest

dev: setup
	$(BIN)/dg dev --host 127.0.0.1

bench: setup
	$(BIN)/finops-assets bench --rows $${ROWS:-10000000}

sample: setup
	$(BIN)/finops-assets generate-sample --out $(DATA_DIR) --seed 7
