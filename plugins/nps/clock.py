"""The pipeline's clock for event times (when an email was sent, when a row was loaded).

What data a run covers always comes from the run's data interval; this clock only stamps real
events. ``NPS_FAKE_NOW`` (ISO 8601, UTC) pins it, so the demo can replay past weeks as if they
were happening and tests can be exact. Production never sets it.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime


def utcnow() -> datetime:
    """Current UTC time as a naive datetime (the warehouse stores UTC without a zone)."""
    fake = os.environ.get("NPS_FAKE_NOW")
    if fake:
        dt = datetime.fromisoformat(fake)
        return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo else dt
    return datetime.now(UTC).replace(tzinfo=None)
