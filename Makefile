# The project's commands. Set-up on a fresh machine is two of them: `make demo`, then `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9

# A project-local Airflow: SQLite metadata in .airflow/ (git-ignored), DAGs and plugins from here.
export AIRFLOW_HOME := $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__DAG_IGNORE_FILE_SYNTAX := glob
export PYTHONPATH := $(CURDIR)/plugins
# The embedded project: only here (and in the demo and the tests) may a missing nps_warehouse or
# email connection fall back to the local DuckDB file and the outbox; anywhere else a task fails
# naming the connection (fail closed, see README "On-call runbook").
export NPS_EMBEDDED ?= 1

.PHONY: help venv init demo test browser test-fast bench ui survey-web lint constraints clean

help:
	@echo "make demo         set up everything and run the program's DAGs over simulated weeks"
	@echo "make test         the whole test suite (unit + integration, DuckDB + PostgreSQL)"
	@echo "make bench        benchmarks (BENCH=name for one: $$(ls benchmarks/bench_*.py | sed 's/.*bench_//; s/\.py//' | tr '\n' ' '))"
	@echo "make ui           Airflow UI on http://localhost:8080 with the project's DAGs and demo data"
	@echo "make survey-web   the survey response page on http://127.0.0.1:8090 (WEB_ARGS='--host ... --port ...')"
	@echo "make celery-up    the program on the CeleryExecutor: PostgreSQL, Redis, 2 workers (make celery-down stops it)"
	@echo "make lint         ruff (incl. Airflow 3 rules AIR3)"
	@echo "make constraints  re-resolve requirements-dev.txt (includes requirements.txt) into constraints.txt"
	@echo "make clean        remove the venv, .airflow/ and data/"

$(BIN)/.installed: requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@echo "==> creating the virtual environment in .venv (Python: $(PYTHON))"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"
	@echo "==> installing pinned packages (requirements-dev.txt, which includes requirements.txt, + constraints.txt)"
	@# --compile-bytecode: where PYTHONDONTWRITEBYTECODE is set (CI machines), every process would
	@# otherwise compile Airflow from source on import: ~3 s more per process.
	@$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -r requirements-dev.txt -c constraints.txt
	@# The project's own package, editable: Airflow finds its provider info (connection types,
	@# version) through the package's entry point; the code stays in plugins/nps/.
	@echo "==> installing the nps package (editable) so Airflow lists it as a provider"
	@$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	@touch $@

venv: $(BIN)/.installed

$(AIRFLOW_HOME)/airflow.db: | $(BIN)/.installed
	@echo "==> initialising Airflow metadata (SQLite) in .airflow/"
	@mkdir -p $(AIRFLOW_HOME)
	@$(BIN)/airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 || { tail -20 $(AIRFLOW_HOME)/db-migrate.log; exit 1; }

# The program's connections in the local Airflow (visible and editable in the UI): the embedded
# DuckDB warehouse and a freshly generated survey-token secret. Environment variables
# (AIRFLOW_CONN_NPS_WAREHOUSE, ...) take precedence over these.
$(AIRFLOW_HOME)/.connections: | $(AIRFLOW_HOME)/airflow.db
	@echo "==> creating the connections nps_warehouse (DuckDB file) and nps_survey_token (new secret)"
	@$(BIN)/airflow connections get nps_warehouse >/dev/null 2>&1 || $(BIN)/airflow connections add nps_warehouse \
	  --conn-type nps_warehouse --conn-extra '{"engine": "duckdb", "duckdb_path": "$(CURDIR)/data/warehouse.duckdb", "embedded": true}' \
	  --conn-description "The program's warehouse (embedded DuckDB); point it at PostgreSQL for real use" >/dev/null
	@$(BIN)/airflow connections get nps_survey_token >/dev/null 2>&1 || $(BIN)/airflow connections add nps_survey_token \
	  --conn-type nps_survey_token --conn-password="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(32))')" \
	  --conn-description "HMAC secret that signs survey links (password field)" >/dev/null
	@touch $@

# The program's pools (scripts/airflow-pools.sh): one writer at a time on the embedded DuckDB file.
$(AIRFLOW_HOME)/.pools: scripts/airflow-pools.sh | $(AIRFLOW_HOME)/airflow.db
	@PATH="$(BIN):$$PATH" bash scripts/airflow-pools.sh 1 && touch $@

init: venv $(AIRFLOW_HOME)/airflow.db $(AIRFLOW_HOME)/.connections $(AIRFLOW_HOME)/.pools

demo: init
	@$(BIN)/python -m nps.demo.run $(DEMO_ARGS)

# Debian's Chromium for the browser tests (a no-op when /usr/bin/chromium is there).
browser:
	@bash scripts/install-browser.sh

test: venv browser
	@$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

test-fast: venv
	@$(BIN)/python -m pytest -m unit -q $(PYTEST_ARGS)

bench: init
	@$(BIN)/python benchmarks/run.py $(BENCH)

ui: init
	@scripts/airflow-ui.sh

# The customer-facing response page behind the invitation links: its own process, 127.0.0.1 only
# unless WEB_ARGS says otherwise. Token secret: NPS_TOKEN_SECRET or the nps_survey_token connection.
survey-web: init
	@echo "==> survey response page: http://127.0.0.1:8090 (answers to $${NPS_LANDING_URI:-data/landing}); Ctrl-C stops it"
	@$(BIN)/python -m nps.web $(WEB_ARGS)

lint: venv
	@$(BIN)/ruff check .

constraints:
	@$(PYTHON) -m venv /tmp/nps-constraints-venv && /tmp/nps-constraints-venv/bin/pip install -q "uv==$(UV_VERSION)"
	@/tmp/nps-constraints-venv/bin/uv pip install -q --python /tmp/nps-constraints-venv/bin/python -r requirements-dev.txt
	@(echo "# Full resolved set for Python 3.11, tested with requirements-dev.txt. Regenerate: make constraints"; \
	  /tmp/nps-constraints-venv/bin/uv pip freeze --python /tmp/nps-constraints-venv/bin/python | grep -vE '^(pip|uv)==') > constraints.txt
	@rm -rf /tmp/nps-constraints-venv; echo "constraints.txt updated"

clean:
	rm -rf $(VENV) $(AIRFLOW_HOME) data

# ---- Operations (issue 13): the program on Airflow's CeleryExecutor, separate processes, no Docker ----
# PostgreSQL metadata and warehouse, Redis broker, two workers; see README "On-call runbook".
.PHONY: celery-up celery-down celery-status
celery-up: venv
	@NPS_EMBEDDED=0 bash scripts/celery.sh up

celery-down:
	@bash scripts/celery.sh down

celery-status: venv
	@bash scripts/celery.sh status
