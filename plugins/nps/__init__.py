"""The customer-feedback program: cohorts, dispatch, ingestion, marts and reports.

Every module here can be imported and tested without Airflow running; the DAG files in
``dags/`` wire them together. Only ``nps.hooks`` touches Airflow's APIs.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INCLUDE_DIR = PROJECT_ROOT / "include"
SQL_DIR = INCLUDE_DIR / "sql"
TEMPLATES_DIR = INCLUDE_DIR / "templates"
CONFIG_DIR = INCLUDE_DIR / "config"
# Where the embedded warehouse, the outbox and the landing area live by default (git-ignored).
DATA_DIR = Path(os.environ.get("NPS_DATA_DIR") or PROJECT_ROOT / "data")
