#!/usr/bin/env bash
# The program on Airflow's CeleryExecutor, as separate processes on this machine, no Docker
# (`make celery-up`, `make celery-down`, `make celery-status`; `scripts/celery.sh worker 3` adds a
# worker, `eval "$(scripts/celery.sh env)"` gives a shell the stack's settings for `airflow ...`):
#   api-server, scheduler, dag-processor, triggerer and NPS_CELERY_WORKERS (default 2) `airflow celery
#   worker`s, each a process group of its own, logs and pid files in $NPS_CELERY_HOME/{logs,run}.
#   Metadata: PostgreSQL database $NPS_CELERY_METADATA_DB (created when missing, never dropped here).
#   Broker and results: Redis $NPS_CELERY_REDIS (a dedicated database number).
#   Warehouse: PostgreSQL database $NPS_CELERY_WAREHOUSE_DB (created when missing), not the DuckDB file.
#   Fail closed: NPS_EMBEDDED=0, so a missing connection fails a task instead of falling back.
#   Shared by every process (generated once into $NPS_CELERY_HOME/secrets.env, mode 600): the
#   Fernet key, the JWT secret, the API secret key and the survey-token secret.
#
# Environment (all optional; what the caller sets wins):
#   NPS_CELERY_HOME          Airflow home of the stack (default .airflow-celery/)
#   NPS_CELERY_PG            PostgreSQL server (default postgresql://postgres@127.0.0.1:5432)
#   NPS_CELERY_METADATA_DB   default nps_airflow_celery
#   NPS_CELERY_WAREHOUSE_DB  default nps_warehouse_celery
#   NPS_CELERY_REDIS         default redis://127.0.0.1:6379/7
#   NPS_CELERY_QUEUE         the Celery queue the workers serve (default nps)
#   NPS_CELERY_WORKERS       number of workers (default 2), NPS_CELERY_CONCURRENCY task slots each (default 2)
#   AIRFLOW__API__PORT       the API server's port (default: a free loopback port, kept in secrets.env)
#   NPS_EMAIL_TRANSPORT      default outbox (declared, into $NPS_CELERY_HOME/outbox) unless an
#                            AIRFLOW_CONN_NPS_SENDGRID or AIRFLOW_CONN_NPS_SMTP is set
#   NPS_TOKEN_SECRET         the survey-token secret(s) (default: a generated one in the connection
#                            nps_survey_token of the metadata database, editable in the UI)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${NPS_VENV:-$root/.venv}"
cmd="${1:-status}"
home="${NPS_CELERY_HOME:-$root/.airflow-celery}"
run="$home/run"
logs="$home/logs"
components=(api-server scheduler dag-processor triggerer)

if [ ! -x "$venv/bin/airflow" ]; then
  echo "no Airflow in $venv: run 'make init' first" >&2
  exit 1
fi
export PATH="$venv/bin:$PATH"

free_port() { "$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
secret() { "$venv/bin/python" -c 'import secrets; print(secrets.token_urlsafe(32))'; }

settings() {
  mkdir -p "$home" "$run" "$logs"
  if [ ! -f "$home/secrets.env" ]; then
    umask 077
    {
      echo "NPS_CELERY_FERNET_KEY=$("$venv/bin/python" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
      echo "NPS_CELERY_JWT_SECRET=$(secret)"
      echo "NPS_CELERY_API_SECRET_KEY=$(secret)"
      echo "NPS_CELERY_TOKEN_SECRET=$(secret)"
      echo "NPS_CELERY_API_PORT=${AIRFLOW__API__PORT:-$(free_port)}"
      echo "NPS_CELERY_TRIGGER_LOG_PORT=$(free_port)"
      for i in $(seq 1 "${NPS_CELERY_WORKERS:-2}"); do echo "NPS_CELERY_WORKER_LOG_PORT_$i=$(free_port)"; done
    } > "$home/secrets.env"
    umask 022
  fi
  set -a
  # shellcheck disable=SC1091
  . "$home/secrets.env"
  set +a
  pg="${NPS_CELERY_PG:-postgresql://postgres@127.0.0.1:5432}"
  metadata_db="${NPS_CELERY_METADATA_DB:-nps_airflow_celery}"
  warehouse_db="${NPS_CELERY_WAREHOUSE_DB:-nps_warehouse_celery}"
  port="${AIRFLOW__API__PORT:-$NPS_CELERY_API_PORT}"
  export AIRFLOW_HOME="$home"
  export AIRFLOW__CORE__EXECUTOR=CeleryExecutor
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="${pg/postgresql:/postgresql+psycopg:}/$metadata_db"
  # psycopg 3 for the async engine too (Airflow would otherwise ask for asyncpg, not installed).
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC="${pg/postgresql:/postgresql+psycopg_async:}/$metadata_db"
  export AIRFLOW__CELERY__BROKER_URL="${NPS_CELERY_REDIS:-redis://127.0.0.1:6379/7}"
  export AIRFLOW__CELERY__RESULT_BACKEND="${NPS_CELERY_REDIS:-redis://127.0.0.1:6379/7}"
  # Redis redelivers a task not acknowledged within the visibility timeout (apache/airflow #58441):
  # keep it above the longest task (6 h here; the marts build takes minutes).
  export AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT="${AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT:-21600}"
  export AIRFLOW__OPERATORS__DEFAULT_QUEUE="${NPS_CELERY_QUEUE:-nps}"
  export AIRFLOW__CORE__FERNET_KEY="$NPS_CELERY_FERNET_KEY"
  export AIRFLOW__API_AUTH__JWT_SECRET="$NPS_CELERY_JWT_SECRET"
  export AIRFLOW__API__SECRET_KEY="$NPS_CELERY_API_SECRET_KEY"
  export AIRFLOW__API__HOST="${AIRFLOW__API__HOST:-127.0.0.1}"
  export AIRFLOW__API__PORT="$port"
  export AIRFLOW__API__BASE_URL="${AIRFLOW__API__BASE_URL:-http://127.0.0.1:$port}"
  export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="${AIRFLOW__CORE__EXECUTION_API_SERVER_URL:-http://127.0.0.1:$port/execution/}"
  export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-admin:admin}"
  export AIRFLOW__CORE__DAGS_FOLDER="$root/dags"
  export AIRFLOW__CORE__PLUGINS_FOLDER="$root/plugins"
  export AIRFLOW__CORE__LOAD_EXAMPLES=False
  export AIRFLOW__CORE__DAG_IGNORE_FILE_SYNTAX=glob
  export AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT="$NPS_CELERY_TRIGGER_LOG_PORT"
  export AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT="${AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT:-60}"
  export PYTHONPATH="$root/plugins${PYTHONPATH:+:$PYTHONPATH}"
  # The program: fail closed, warehouse on PostgreSQL, the token secret shared by every worker.
  export NPS_EMBEDDED=0
  export AIRFLOW_CONN_NPS_WAREHOUSE="${AIRFLOW_CONN_NPS_WAREHOUSE:-$pg/$warehouse_db}"
  if [ -z "${AIRFLOW_CONN_NPS_SENDGRID:-}${AIRFLOW_CONN_NPS_SMTP:-}" ]; then
    export NPS_EMAIL_TRANSPORT="${NPS_EMAIL_TRANSPORT:-outbox}"
  fi
  export NPS_OUTBOX_DIR="${NPS_OUTBOX_DIR:-$home/outbox}"
  export NPS_LANDING_URI="${NPS_LANDING_URI:-$home/landing}"
  export NPS_REPORTS_URI="${NPS_REPORTS_URI:-$home/reports}"
  export NPS_DATA_DIR="${NPS_DATA_DIR:-$home/data}"
}

worker() {  # worker N: start Celery worker N (also to add one to a running stack)
  local i="$1" var="NPS_CELERY_WORKER_LOG_PORT_$1"
  if [ -z "${!var:-}" ]; then
    echo "$var=$(free_port)" >> "$home/secrets.env"
    set -a; . "$home/secrets.env"; set +a
  fi
  # Each worker: its own log-server port, and its own name on the task instances it runs
  # (NPS_WORKER_HOSTNAME through nps.workers.hostname), so the UI tells the workers apart.
  start "worker-$i" env AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT="${!var}" NPS_WORKER_HOSTNAME="nps-worker-$i" \
    AIRFLOW__CORE__HOSTNAME_CALLABLE=nps.workers.hostname \
    airflow celery worker --celery-hostname "nps-worker-$i@%h" --queues "$AIRFLOW__OPERATORS__DEFAULT_QUEUE" \
    --concurrency "${NPS_CELERY_CONCURRENCY:-2}" --pid "$run/worker-$i.celery.pid"
}

alive() { [ -f "$run/$1.pid" ] && kill -0 -- "-$(cat "$run/$1.pid")" 2>/dev/null; }

start() {  # name, command...: its own session (pid = process group), output to logs/<name>.log
  local name="$1"; shift
  if alive "$name"; then echo "    $name already running (pid $(cat "$run/$name.pid"))"; return; fi
  setsid "$@" > "$logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$run/$name.pid"
  echo "    $name started (pid $!)"
}

createdb_if_missing() {
  local db="$1" admin="${pg}/postgres"
  if [ "$(psql "$admin" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" != "1" ]; then
    psql "$admin" -qc "CREATE DATABASE \"$db\"" && echo "    created database $db"
  fi
}

up() {
  settings
  echo "==> Airflow on Celery: home $home, metadata $metadata_db, warehouse $warehouse_db, broker ${AIRFLOW__CELERY__BROKER_URL}"
  pg_isready -h 127.0.0.1 -p 5432 >/dev/null || { echo "PostgreSQL is not answering on 127.0.0.1:5432" >&2; exit 1; }
  redis-cli -u "$AIRFLOW__CELERY__BROKER_URL" ping >/dev/null || { echo "Redis is not answering at $AIRFLOW__CELERY__BROKER_URL" >&2; exit 1; }
  createdb_if_missing "$metadata_db"
  createdb_if_missing "$warehouse_db"
  echo "==> migrating the metadata database, the warehouse and the pools"
  airflow db migrate > "$logs/db-migrate.log" 2>&1 || { tail -20 "$logs/db-migrate.log"; exit 1; }
  python -c 'import os; from nps.warehouse import Warehouse; w = Warehouse(os.environ["AIRFLOW_CONN_NPS_WAREHOUSE"]); w.migrate(); w.dispose()' \
    > "$logs/warehouse-migrate.log" 2>&1 || { tail -20 "$logs/warehouse-migrate.log"; exit 1; }
  bash "$root/scripts/airflow-pools.sh" "${NPS_CELERY_WAREHOUSE_SLOTS:-4}"
  # The survey-token secret as a connection in the metadata database, so a rotation is an edit in
  # the UI (README: rotate the token secret); NPS_TOKEN_SECRET or AIRFLOW_CONN_NPS_SURVEY_TOKEN win.
  if [ -z "${NPS_TOKEN_SECRET:-}${AIRFLOW_CONN_NPS_SURVEY_TOKEN:-}" ] && ! airflow connections get nps_survey_token >/dev/null 2>&1; then
    airflow connections add nps_survey_token --conn-type nps_survey_token --conn-password "$NPS_CELERY_TOKEN_SECRET" \
      --conn-description "HMAC secret(s) that sign survey links: NEW,OLD during a rotation" >/dev/null
  fi
  if [ ! -f "$home/simple_auth_manager_passwords.json.generated" ]; then
    (umask 077; echo "{\"admin\": \"$(secret)\"}" > "$home/simple_auth_manager_passwords.json.generated")
  fi
  echo "==> starting the components"
  for c in "${components[@]}"; do start "$c" airflow "$c"; done
  for i in $(seq 1 "${NPS_CELERY_WORKERS:-2}"); do worker "$i"; done
  echo "==> waiting for the API server on $AIRFLOW__API__BASE_URL"
  for _ in $(seq 1 "${NPS_CELERY_START_TIMEOUT:-180}"); do
    if curl -sf "$AIRFLOW__API__BASE_URL/api/v2/monitor/health" >/dev/null 2>&1; then
      echo "==> up: UI $AIRFLOW__API__BASE_URL (user admin, password in $home/simple_auth_manager_passwords.json.generated)"
      echo "    email: ${NPS_EMAIL_TRANSPORT:-connection} (outbox $NPS_OUTBOX_DIR), landing $NPS_LANDING_URI; make celery-down stops it"
      return 0
    fi
    for c in "${components[@]}"; do alive "$c" || { echo "$c exited:" >&2; tail -30 "$logs/$c.log" >&2; down; exit 1; }; done
    sleep 1
  done
  echo "the API server did not answer in time; see $logs" >&2
  down
  exit 1
}

down() {
  [ -d "$run" ] || { echo "==> nothing to stop in $home"; return 0; }
  echo "==> stopping every process of the stack in $home"
  local grace="${NPS_CELERY_STOP_GRACE:-30}" pids=()
  for f in "$run"/*.pid; do
    [ -e "$f" ] || continue
    case "$f" in *.celery.pid) continue ;; esac
    pids+=("$(cat "$f")")
    kill -TERM -- "-$(cat "$f")" 2>/dev/null || true
  done
  for _ in $(seq 1 "$grace"); do
    local left=0
    for p in "${pids[@]}"; do kill -0 -- "-$p" 2>/dev/null && left=1; done
    [ "$left" = 0 ] && break
    sleep 1
  done
  for p in "${pids[@]}"; do
    if kill -0 -- "-$p" 2>/dev/null; then
      echo "    process group $p still running after ${grace} s: killing it"
      kill -KILL -- "-$p" 2>/dev/null || true
    fi
  done
  rm -f "$run"/*.pid
  echo "==> stopped"
}

status() {
  settings
  for c in "${components[@]}"; do
    if alive "$c"; then echo "$c running (pid $(cat "$run/$c.pid"))"; else echo "$c stopped"; fi
  done
  for f in "$run"/worker-*.pid; do
    [ -e "$f" ] || continue
    case "$f" in *.celery.pid) continue ;; esac
    c="$(basename "$f" .pid)"
    if alive "$c"; then echo "$c running (pid $(cat "$f"))"; else echo "$c stopped"; fi
  done
  echo "UI: $AIRFLOW__API__BASE_URL"
}

shell_env() {  # the stack's settings as exports: eval "$(scripts/celery.sh env)" (includes its secrets)
  settings
  env | grep -E '^(AIRFLOW_|NPS_|PYTHONPATH=|PATH=)' | grep -vE '^NPS_CELERY_' | sort | while IFS= read -r line; do
    printf 'export %s=%q\n' "${line%%=*}" "${line#*=}"  # values may end in "=" (the Fernet key)
  done
}

case "$cmd" in
  up) up ;;
  down) down ;;
  status) status ;;
  worker) settings; worker "${2:?usage: $0 worker N}" ;;
  env) shell_env ;;
  *) echo "usage: $0 up|down|status|worker N|env" >&2; exit 2 ;;
esac
