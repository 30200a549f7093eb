#!/usr/bin/env bash
# The Airflow UI for the project (`make ui`): `airflow standalone` on the project-local Airflow home
# (the demo's runs, logs and connections), with the virtual environment first on PATH, because
# standalone starts its api-server, scheduler, dag-processor and triggerer as `airflow` processes
# looked up on PATH. Ctrl-C stops every component (see stop() below).
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

# Ctrl-C: standalone is asked to stop as a terminal would ask it (SIGINT to its process group), and
# what still runs after a grace period (a component that did not finish its own shutdown: the
# triggerer has been seen to hang on a busy machine) is terminated, so no component outlives this.
set -m  # standalone gets its own process group, and SIGINT is not ignored in it
grace="${NPS_UI_STOP_GRACE:-30}"
stop() {
  trap '' INT TERM
  echo "==> stopping Airflow (components get ${grace} s to finish)"
  kill -INT -- "-$pid" 2>/dev/null || true
  for _ in $(seq 1 "$grace"); do
    kill -0 -- "-$pid" 2>/dev/null || break
    sleep 1
  done
  if kill -0 -- "-$pid" 2>/dev/null; then
    echo "==> still running after ${grace} s: $(ps -o comm= -g "$pid" | sort | uniq -c | tr -s ' \n' ' '); terminating"
    kill -TERM -- "-$pid" 2>/dev/null || true
    sleep 5
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  echo "==> Airflow stopped"
  exit 0
}
trap stop INT TERM
# The program's pools (its tasks wait for them): migrate first, so they can be created before the
# scheduler starts; standalone then finds the database up to date.
airflow db migrate > "$AIRFLOW_HOME/db-migrate.log" 2>&1 || { tail -20 "$AIRFLOW_HOME/db-migrate.log"; exit 1; }
bash "$root/scripts/airflow-pools.sh" 1
airflow standalone &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
  wait "$pid" || true
done
