"""The per-file audit (``ops.ingest_files``) and the quarantine (``ops.quarantine``).

Every file version gets one audit row when it is finished: rows read = loaded + quarantined +
exact duplicates skipped, each number from its own source (``nps.ingest.load``). ``check_balance``
enforces that before the row is written; a file whose numbers do not add up leaves no rows behind
and is set aside in ``rejected/`` with the reason (no audit row, so it can be dropped again).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from nps.ingest import AuditMismatchError

QUARANTINE_COLUMNS = ["file_id", "line_number", "path", "kind", "category", "rule", "reason", "survey_id",
                      "original_line", "quarantined_at"]


@dataclass
class FileResult:
    """What happened to one landed file (also the task's XCom summary, via ``as_dict``)."""

    path: str
    kind: str
    file_id: str = ""
    checksum: str = ""
    size_bytes: int = 0
    file_format: str = ""
    status: str = "loaded"  # loaded, rejected, skipped (this exact version was ingested before)
    reason: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    rows_security: int = 0
    archived_to: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    rules: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("started_at", "finished_at"):
            d[k] = d[k].isoformat() if d[k] else None
        return d


def check_balance(r: FileResult) -> None:
    total = r.rows_loaded + r.rows_quarantined + r.rows_duplicate
    if r.rows_read != total:
        raise AuditMismatchError(
            f"{r.path}: rows read {r.rows_read} != loaded {r.rows_loaded} + quarantined {r.rows_quarantined} "
            f"+ duplicates {r.rows_duplicate} = {total}: rows were lost on the way; nothing of the file is kept"
        )


def known_file(warehouse, file_id: str) -> dict[str, Any] | None:  # noqa: ANN001
    with warehouse.engine.connect() as conn:
        row = conn.execute(sa.text(warehouse.read_sql("ingest/known_file").rstrip().rstrip(";")), {"file_id": file_id}).first()
    return dict(row._mapping) if row else None


def reset_file(warehouse, conn, file_id: str, kind: str) -> None:  # noqa: ANN001
    """Delete what an interrupted earlier attempt at this file version left behind."""
    if kind == "responses":
        warehouse.run_file(conn, "ingest/delete_file_responses", {"file_id": file_id})
    else:
        warehouse.run_file(conn, "ingest/delete_file_events", {"file_id": file_id})
    warehouse.run_file(conn, "ingest/delete_file_quarantine", {"file_id": file_id})


def write_file_row(warehouse, conn, r: FileResult) -> None:  # noqa: ANN001
    if r.status != "rejected":
        check_balance(r)
    params = {k: v for k, v in asdict(r).items() if k not in ("rules",)}
    params["size_bytes"] = int(r.size_bytes)
    warehouse.run_file(conn, "ingest/insert_file", params)


def load_quarantine(warehouse, conn, frame) -> int:  # noqa: ANN001
    """Append quarantine rows (a DataFrame with ``QUARANTINE_COLUMNS``)."""
    return warehouse.load_df(conn, "ops.quarantine", frame[QUARANTINE_COLUMNS])
