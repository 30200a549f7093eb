#!/usr/bin/env bash
# The program's Airflow pools, created or resized (idempotent): writers that must not overlap never do.
#   nps_warehouse  every task that writes the warehouse. One slot for the embedded DuckDB file (one
#                  writer at a time); more on PostgreSQL (first argument, e.g. 4 for make celery-up).
#   nps_marts      the marts build (stage, audit, publish): one slot, one build at a time, whichever
#                  DAG runs it.
# Usage: scripts/airflow-pools.sh [warehouse_slots]   (airflow on PATH, AIRFLOW_HOME / metadata set)
set -euo pipefail
slots="${1:-1}"
file="$(mktemp --suffix=.json)"
trap 'rm -f "$file"' EXIT
cat > "$file" <<JSON
{
  "nps_warehouse": {"slots": $slots, "description": "NPS: tasks that write the warehouse (1 slot for the embedded DuckDB file)", "include_deferred": false},
  "nps_marts": {"slots": 1, "description": "NPS: the marts build (stage, audit, publish), one at a time", "include_deferred": false}
}
JSON
airflow pools import "$file" >/dev/null
