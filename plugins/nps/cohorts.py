"""Cohort selection: who is surveyed in a run's data interval, and why the others are not.

It owns the run's calendar (``ops.cohort_days``: each industry's relationship cycle, the day's
slot in it and the fatigue windows around it), the touchpoint windows (``ops.cohort_rules``:
events in ``[day - delay, day + 1 - delay)`` fall due on ``day``), and the set-based selection in
``include/sql/cohorts/``, which writes every candidate with its exclusion reason to
``ops.cohort_candidates`` and the counts to ``ops.cohort_runs``.

The cohort's identity is the data interval (``interval_start``), not the Airflow run id: a rerun,
a cleared task or a ``dag.test`` of the same interval reuses the stored cohort unchanged.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from nps.config import Cadence, ProgramConfig
from nps.warehouse import Warehouse, holding

log = logging.getLogger(__name__)

REASONS = ("churned", "no_consent", "suppressed", "fatigue", "relationship_wins", "account_cap", "selected")
MAX_INTERVAL_DAYS = 92  # a longer interval is almost certainly a mistake (it would survey a quarter at once)


class CohortError(ValueError):
    """The interval or the configuration cannot give a cohort."""


@dataclass(frozen=True)
class CohortSummary:
    """The counts of one interval's cohort (a row of ``ops.cohort_runs``)."""

    interval_start: datetime
    interval_end: datetime
    run_id: str
    due: int
    due_relationship: int
    due_transactional: int
    churned: int
    no_consent: int
    suppressed: int
    fatigue: int
    relationship_wins: int
    account_cap: int
    selected: int
    reused: bool = False

    def line(self) -> str:
        """'412 due, 57 skipped for fatigue, 9 suppressed, 346 selected' (zero counts left out)."""
        parts = [f"{self.due} due"]
        labels = [
            (self.churned, "skipped as churned"),
            (self.no_consent, "without consent"),
            (self.suppressed, "suppressed"),
            (self.fatigue, "skipped for fatigue"),
            (self.relationship_wins, "transactional skipped (relationship wins)"),
            (self.account_cap, "over the account cap"),
        ]
        parts += [f"{n} {label}" for n, label in labels if n]
        parts.append(f"{self.selected} selected")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}


def slot_day(contact_id: str, cycle_days: int) -> int:
    """The contact's day (0-based) in a cycle of ``cycle_days``; the SQL computes the same."""
    return int(hashlib.md5(contact_id.encode("utf-8")).hexdigest()[:6], 16) % cycle_days


def interval_days(interval_start: datetime, interval_end: datetime) -> list[date]:
    """The days a data interval covers: one per started 24 hours, at least one."""
    if interval_end <= interval_start:
        raise CohortError(f"data interval is empty: {interval_start} .. {interval_end}")
    span = interval_end - interval_start
    n = max(1, -(-span // timedelta(days=1)))
    if n > MAX_INTERVAL_DAYS:
        raise CohortError(f"data interval {interval_start} .. {interval_end} spans {n} days (at most {MAX_INTERVAL_DAYS})")
    first = interval_start.date()
    return [first + timedelta(days=i) for i in range(n)]


def _window(day: date, days: int) -> tuple[date, date]:
    """Survey dates that block one on ``day``: within ``days`` days either side; empty for 0."""
    if days <= 0:
        return day + timedelta(days=1), day - timedelta(days=1)
    return day - timedelta(days=days - 1), day + timedelta(days=days - 1)


def calendar(config: ProgramConfig, interval_start: datetime, interval_end: datetime):
    """The run's ``ops.cohort_days`` and ``ops.cohort_rules`` rows as two DataFrames."""
    import pandas as pd

    days = interval_days(interval_start, interval_end)
    fat = config.fatigue
    day_rows, rule_rows = [], []
    for industry_name, industry in sorted(config.industries.items()):
        cadence: Cadence = industry.relationship_cadence
        for i, day in enumerate(days):
            start, end = cadence.cycle_bounds(day)
            rel, tx, anyw = _window(day, fat.relationship_days), _window(day, fat.transactional_days), _window(day, fat.any_survey_days)
            day_rows.append(
                {
                    "interval_start": interval_start,
                    "industry": industry_name,
                    "day": day,
                    "cadence": cadence.value,
                    "cycle": cadence.cycle_key(day),
                    "cycle_start": start,
                    "cycle_end": end,
                    "cycle_days": (end - start).days,
                    "day_index": (day - start).days,
                    "relationship_survey": industry.relationship_survey.value,
                    "rel_lo": rel[0], "rel_hi": rel[1],
                    "tx_lo": tx[0], "tx_hi": tx[1],
                    "any_lo": anyw[0], "any_hi": anyw[1],
                }
            )
            # The day's slice of the interval, shifted back by each touchpoint's delay.
            lo = interval_start + timedelta(days=i)
            hi = min(interval_start + timedelta(days=i + 1), interval_end)
            for tp, rule in sorted(config.touchpoints_for(industry_name).items()):
                delay = timedelta(days=rule.delay_days)
                rule_rows.append(
                    {
                        "interval_start": interval_start,
                        "industry": industry_name,
                        "touchpoint": tp,
                        "day": day,
                        "survey_type": rule.survey.value,
                        "delay_days": rule.delay_days,
                        "window_start": lo - delay,
                        "window_end": hi - delay,
                    }
                )
    days_df = pd.DataFrame(day_rows)
    for col in ("day", "cycle_start", "cycle_end", "rel_lo", "rel_hi", "tx_lo", "tx_hi", "any_lo", "any_hi"):
        days_df[col] = pd.to_datetime(days_df[col]).dt.date
    return days_df, pd.DataFrame(rule_rows)


def _naive(ts: datetime) -> datetime:
    """A plain naive-UTC datetime (the warehouse stores UTC without a zone; pendulum arrives from Airflow)."""
    from datetime import UTC

    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC)
    return datetime(ts.year, ts.month, ts.day, ts.hour, ts.minute, ts.second, ts.microsecond)


def _event_span(rules_df, start: datetime, end: datetime) -> dict[str, datetime]:
    """The earliest and latest touchpoint-event instants any rule's window of the run can match."""
    if rules_df.empty:  # no touchpoints configured: an empty span
        return {"events_from": start, "events_to": start}
    return {
        "events_from": _naive(rules_df["window_start"].min().to_pydatetime()),
        "events_to": _naive(rules_df["window_end"].max().to_pydatetime()),
    }


def load_summary(wh: Warehouse, interval_start: datetime) -> CohortSummary | None:
    """The stored counts of an interval's cohort, or None when it was never selected."""
    rows = wh.query("SELECT * FROM ops.cohort_runs WHERE interval_start = :s", {"s": _naive(interval_start)})
    if not rows:
        return None
    r = rows[0]
    return CohortSummary(
        interval_start=r["interval_start"],
        interval_end=r["interval_end"],
        run_id=r["run_id"],
        **{k: int(r[k]) for k in ("due", "due_relationship", "due_transactional", *REASONS)},
        reused=True,
    )


@holding
def select_cohort(
    wh: Warehouse,
    config: ProgramConfig,
    interval_start: datetime,
    interval_end: datetime,
    run_id: str,
    *,
    reselect: bool = False,
    now: datetime | None = None,
) -> CohortSummary:
    """Select the interval's cohort, or reuse the stored one (``reselect`` forces a fresh selection)."""
    from nps.clock import utcnow

    start, end = _naive(interval_start), _naive(interval_end)
    if not reselect:
        stored = load_summary(wh, start)
        if stored is not None:
            log.info("cohort of %s already selected by run %s; reusing it: %s", start, stored.run_id, stored.line())
            return stored
    days_df, rules_df = calendar(config, start, end)
    params = {"interval_start": start, "interval_end": end, "run_id": run_id}
    # One transaction: a rerun never sees half a cohort.
    with wh.begin() as conn:
        wh.run_file(conn, "cohorts/clear_interval", {"interval_start": start})
        # DuckDB: the stored slot hashes are refreshed when the counts say a contact came or
        # went; the ops.cohort_contacts view hashes any contact the table still lacks, so this is
        # only a cache. PostgreSQL keeps the slot in ops.cohort_contacts itself (triggers).
        if wh.is_duckdb:
            counts = conn.exec_driver_sql(
                "SELECT (SELECT COUNT(*) FROM src.contacts), (SELECT COUNT(*) FROM ops.contact_slots)").one()
            if counts[0] != counts[1]:
                wh.run_file(conn, "cohorts/contact_slots")
        wh.load_df(conn, "ops.cohort_days", days_df)
        wh.load_df(conn, "ops.cohort_rules", rules_df)
        wh.run_file(conn, "cohorts/tune")
        wh.run_file(conn, "cohorts/candidates", {**params, **_event_span(rules_df, start, end),
                                                 "account_cap": config.fatigue.account_cap_per_cycle})
        wh.run_file(conn, "cohorts/summary", {**params, "selected_at": now or utcnow()})
    summary = load_summary(wh, start)
    assert summary is not None
    summary = CohortSummary(**{**summary.__dict__, "reused": False})
    log.info("cohort of %s .. %s: %s", start, end, summary.line())
    return summary
