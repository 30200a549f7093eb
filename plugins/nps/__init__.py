"""The customer-feedback program: cohorts, dispatch, ingestion, marts and reports.

Every module here can be imported and tested without Airflow running; the DAG files in
``dags/`` compose the operators of ``nps.operators``. Only ``nps.hooks`` and ``nps.operators``
(and the thin TaskFlow wrappers in ``nps.tasks``) touch Airflow's APIs.

Where the package finds its SQL, templates and program config (``INCLUDE_DIR``):
``NPS_INCLUDE_DIR`` when set; else ``nps/_include/`` when the package was installed from a wheel
(``pip install .`` copies ``include/`` there); else the repository's ``include/`` (this checkout,
``plugins/`` on the path or ``pip install -e .``).
"""

from __future__ import annotations

import os
from pathlib import Path

__version__ = "0.2.0"

_PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = _PACKAGE_DIR.parents[1]
_PACKAGED_INCLUDE = _PACKAGE_DIR / "_include"
_IN_REPOSITORY = (PROJECT_ROOT / "include" / "sql").is_dir()


def _include_dir() -> Path:
    if os.environ.get("NPS_INCLUDE_DIR"):
        return Path(os.environ["NPS_INCLUDE_DIR"])
    if _PACKAGED_INCLUDE.is_dir():
        return _PACKAGED_INCLUDE
    return PROJECT_ROOT / "include"


def _data_dir() -> Path:
    if os.environ.get("NPS_DATA_DIR"):
        return Path(os.environ["NPS_DATA_DIR"])
    if _IN_REPOSITORY:
        return PROJECT_ROOT / "data"
    # Installed as a package: beside Airflow's own files, never inside site-packages.
    return Path(os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow") / "nps-data"


INCLUDE_DIR = _include_dir()
SQL_DIR = INCLUDE_DIR / "sql"
TEMPLATES_DIR = INCLUDE_DIR / "templates"
CONFIG_DIR = INCLUDE_DIR / "config"
# Where the embedded warehouse, the outbox and the landing area live by default (git-ignored).
DATA_DIR = _data_dir()
