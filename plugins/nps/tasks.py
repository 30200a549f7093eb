"""TaskFlow tasks shared by several DAGs."""

from __future__ import annotations

import logging

from airflow.sdk import task

log = logging.getLogger(__name__)


@task(retries=2)
def migrate_warehouse() -> int:
    """Bring the warehouse schema up to date (cheap when it already is); returns its version."""
    from nps.config import load_config
    from nps.hooks import get_warehouse

    load_config()  # a bad config fails here, before any data is touched
    wh = get_warehouse()
    try:
        applied = wh.migrate()
        version = wh.schema_version()
    finally:
        wh.dispose()
    log.info("warehouse %s at schema version %d (applied now: %s)", wh, version, ", ".join(applied) or "none")
    return version
