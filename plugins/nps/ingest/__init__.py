"""Response ingestion: landed files → validated, deduplicated, attributable warehouse rows.

The package owns the landing area (``landing``), chunked readers for CSV and JSON Lines
(``readers``), row validation with Great Expectations (``validation``), survey-token checks
(``verify``), loading responses with their audit and quarantine (``load``, ``audit``) and SendGrid
event batches (``events``). Nothing here imports Airflow at module level except ``landing`` for
object-storage URIs, lazily; ``dags/nps_ingest_responses.py`` wires it together.
"""

from __future__ import annotations

#: Rows per chunk: memory stays bounded whatever the file size.
DEFAULT_CHUNK_ROWS = 100_000

#: Columns a response file must have, and the optional ones that are read when present.
REQUIRED_COLUMNS = ("token", "score", "responded_at")
OPTIONAL_COLUMNS = ("comment", "locale")
RESPONSE_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

#: Ledger statuses that mean the invitation went out (the dispatch stage may mark a row
#: ``sending`` before the POST and ``sent`` after; a token can only be in a person's hands then).
#: Mirrored in include/sql/ingest/ledger_for_keys.sql.
DISPATCHED_STATUSES = ("sent", "sending")


class RejectedFileError(ValueError):
    """The whole file cannot be parsed; it is set aside with this reason."""


class AuditMismatchError(RuntimeError):
    """rows read != loaded + quarantined + duplicates: something was lost; never ignore this."""
