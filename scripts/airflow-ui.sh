#!/usr/bin/env bash
# The Airflow UI for the project (`make ui`): `airflow standalone` on the project-local Airflow home
# (the demo's runs, logs and connections), with the virtual environment first on PATH, because
# standalone starts its api-server, scheduler, dag-processor and triggerer as `airflow` processes
# looked up on PATH. Ctrl-C stops every component: standalone terminates them, and they share its
# process group, so none outlives it.
#
# Environment (all optional): AIRFLOW_HOME (default .airflow/), NPS_VENV (default .venv/),
# AIRFLOW__API__PORT (default 8080), AIRFLOW__API__HOST (default 127.0.0.1: this machine only), AIRFLOW__CORE__PARALLELISM (default 1: the embedded DuckDB
# file has one writer; raise it with a PostgreSQL warehouse).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${NPS_VENV:-$root/.venv}"
if [ ! -x "$venv/bin/airflow" ]; then
  echo "no Airflow in $venv: run 'make demo' (or 'make init') first" >&2
  exit 1
fi
export PATH="$venv/bin:$PATH"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$root/.airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="${AIRFLOW__CORE__DAGS_FOLDER:-$root/dags}"
export AIRFLOW__CORE__PLUGINS_FOLDER="${AIRFLOW__CORE__PLUGINS_FOLDER:-$root/plugins}"
export AIRFLOW__CORE__LOAD_EXAMPLES="${AIRFLOW__CORE__LOAD_EXAMPLES:-False}"
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-1}"
export AIRFLOW__CORE__DAG_IGNORE_FILE_SYNTAX=glob
export AIRFLOW__API__HOST="${AIRFLOW__API__HOST:-127.0.0.1}"
# SQLite metadata on a busy laptop can keep a task's first call to the API server waiting for
# seconds; the default 5 s timeout then kills a healthy task.
export AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT="${AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT:-60}"
export PYTHONPATH="$root/plugins${PYTHONPATH:+:$PYTHONPATH}"
port="${AIRFLOW__API__PORT:-8080}"
echo "==> Airflow UI: http://localhost:$port  (user admin; password printed below and in $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated)"
echo "==> Ctrl-C stops every component"
exec airflow standalone
