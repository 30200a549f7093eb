"""Report data: everything a report shows, read from the published ``marts.*`` only.

``report_data`` returns one :class:`ReportData` for a report kind, a period and an audience
filter (the company, or a segment variant such as industry = Manufacturing): the scorecard
(baseline, previous, current, target, change, 95% margin of error, significance and progress to
target for every KPI), the trends behind the charts, NPS by industry and segment, the detractor
themes and the accounts whose revenue is at risk. What the marts cannot say for this audience or
period is not guessed: it becomes a *gap* (a code the templates put into words).

Statistics come from the marts (NPS adjusted-Wald interval and test, CSAT and CES tests). For the
two KPIs whose marts hold counts but no test (retention, response rate), the same adjusted-Wald
(Agresti-Coull) two-proportion test the CSAT mart uses is applied to those counts here.
``headline`` gives the demo's printed figures from the same functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from nps.config import KPI_NAMES, ProgramConfig, SegmentVariant
from nps.reports.periods import Period, PeriodError, period_ending_by, period_of
from nps.warehouse import Warehouse

#: Every KPI's unit and decimals, and which marts grain it needs.
KPI_SPECS: dict[str, dict[str, Any]] = {
    "nps": {"unit": "pts", "decimals": 1, "label": "Net Promoter Score"},
    "csat_pct": {"unit": "%", "decimals": 1, "label": "Customer Satisfaction (% 4-5)"},
    "ces_mean": {"unit": "", "decimals": 2, "label": "Customer Effort Score (mean 1-7)"},
    "retention_pct": {"unit": "%", "decimals": 1, "label": "Customer Retention Rate"},
    "response_rate_pct": {"unit": "%", "decimals": 1, "label": "Response rate"},
    "revenue_coverage_pct": {"unit": "%", "decimals": 1, "label": "Revenue coverage"},
    "followup_sla_pct": {"unit": "%", "decimals": 1, "label": "Follow-up within SLA"},
}
Z = 1.96


@dataclass(frozen=True)
class Audience:
    """Who a report is about: the whole company (``all``) or one dimension value."""

    name: str = "all"
    dimension: str = "all"
    value: str = "all"

    @property
    def is_company(self) -> bool:
        return self.dimension == "all"

    @classmethod
    def of(cls, variant: SegmentVariant | None) -> Audience:
        return cls() if variant is None else cls(variant.name, variant.dimension, variant.value)


COMPANY = Audience()


@dataclass
class KpiRow:
    """One scorecard line. ``status``: ok, not_enough (fewer answers than the minimum),
    no_data (nobody answered / nothing to measure), not_available (the marts cannot say it for
    this audience or grain), not_measured (the capability does not exist yet)."""

    kpi: str
    label: str
    unit: str
    decimals: int
    status: str = "ok"
    current: float | None = None
    previous: float | None = None
    change: float | None = None
    moe: float | None = None
    ci_lower: float | None = None
    ci_upper: float | None = None
    n: int | None = None
    prev_n: int | None = None
    significant: bool | None = None
    baseline: float | None = None
    target: float | None = None
    progress_pct: float | None = None
    note: str | None = None         # a gap code (see render.GAPS) for this line, e.g. company_wide_only
    note_params: dict[str, Any] = field(default_factory=dict)  # values the note's words name
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """What the change means: better, worse, no_significant_change, no_previous, untested, none."""
        if self.status != "ok" or self.current is None:
            return "none"
        if self.previous is None or self.change is None:
            return "no_previous"
        if self.significant is None:
            return "untested"
        if not self.significant:
            return "no_significant_change"
        return "better" if self.change > 0 else "worse"


@dataclass
class ReportData:
    kind: str
    period: Period
    audience: Audience
    as_of: datetime | None
    min_answers: int
    scorecard: list[KpiRow]
    nps_band: str | None            # below_zero, healthy, excellent (DOMAIN.md section 1)
    nps_trend: list[dict[str, Any]]
    response_trend: list[dict[str, Any]]
    by_industry: list[dict[str, Any]]
    by_segment: list[dict[str, Any]]
    themes: list[dict[str, Any]]
    risks: list[dict[str, Any]]
    risk_total: dict[str, Any]
    gaps: list[tuple[str, dict[str, Any]]]

    def kpi(self, name: str) -> KpiRow:
        return next(r for r in self.scorecard if r.kpi == name)

    @property
    def no_answers(self) -> bool:
        return all(self.kpi(k).n in (None, 0) for k in ("nps", "csat_pct", "ces_mean"))


def num(v: Any) -> float | None:
    return None if v is None else float(v)


def nps_band(nps: float | None) -> str | None:
    """DOMAIN.md section 1: below 0 · 0 to 50 · above 50."""
    if nps is None:
        return None
    return "below_zero" if nps < 0 else "healthy" if nps <= 50 else "excellent"


def adjusted_share(x: int, n: int) -> tuple[float, float]:
    """Agresti-Coull adjusted share p~ = (x + 2) / (n + 4) and its 95% margin in points."""
    p = (x + 2) / (n + 4)
    return p, 100 * Z * math.sqrt(p * (1 - p) / (n + 4))


def share_change_significant(x1: int, n1: int, x2: int, n2: int) -> bool | None:
    """Two-proportion test on adjusted shares (as marts.mart_csat); None when a period is empty."""
    if n1 <= 0 or n2 <= 0:
        return None
    p1, p2 = (x1 + 2) / (n1 + 4), (x2 + 2) / (n2 + 4)
    return abs(p2 - p1) > Z * math.sqrt(p1 * (1 - p1) / (n1 + 4) + p2 * (1 - p2) / (n2 + 4))


def progress(baseline: float | None, target: float | None, current: float | None) -> float | None:
    """Share of the way from baseline to target, in % (0 at the baseline, 100 at the target)."""
    if baseline is None or target is None or current is None or target == baseline:
        return None
    return round(100.0 * (current - baseline) / (target - baseline), 1)


class _Reader:
    """Runs the include/sql/reports/ files on one connection (one report reads ~10 small results)."""

    def __init__(self, wh: Warehouse, conn) -> None:
        self.wh, self.conn = wh, conn

    def rows(self, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        import sqlalchemy as sa

        sql = self.wh.read_sql(f"reports/{name}")
        return [dict(r._mapping) for r in self.conn.execute(sa.text(sql), params)]


def marts_as_of(wh: Warehouse) -> datetime | None:
    """The instant the published marts were built as of."""
    return wh.scalar(wh.read_sql("reports/marts_as_of"))


def latest_complete_period(wh: Warehouse, kind: str) -> Period:
    """The latest ``kind`` period that had ended when the published marts were built.

    For a manual run without a data interval: it depends on the marts, never the wall clock.
    """
    as_of = marts_as_of(wh)
    if as_of is None:
        raise PeriodError("the published marts are empty (no build with accounts yet): run nps_build_marts first")
    # The period, not the answers in it: a period nobody answered in is still reported (its cells
    # say so), as a scheduled run of it would.
    return period_ending_by(kind, as_of)


def resolve_period(wh: Warehouse, kind: str, *, interval_end: datetime | None, period_start: str | date | None = None) -> tuple[Period, str]:
    """The period a run reports and why: an explicit ``period_start`` Param, else the run's data
    interval, else (a manual run without a logical date) the latest complete period in the marts."""
    if period_start:
        start = period_start if isinstance(period_start, date) else date.fromisoformat(str(period_start))
        return period_of(kind, start), "the period_start param"
    if interval_end is not None:
        return period_ending_by(kind, interval_end), f"the data interval ending {interval_end:%Y-%m-%d %H:%M}"
    return latest_complete_period(wh, kind), "the latest complete period in the published marts (manual run without a logical date)"


def _kpi(config: ProgramConfig, name: str) -> KpiRow:
    spec = KPI_SPECS[name]
    cfg = config.reports.kpis.get(name)
    return KpiRow(
        kpi=name, label=(cfg.label if cfg and cfg.label else spec["label"]), unit=spec["unit"], decimals=spec["decimals"],
        baseline=cfg.baseline if cfg else None, target=cfg.target if cfg else None,
    )


def _score_row(row: KpiRow, cur: dict | None, value: str, moe: str, prev: str, change: str, min_answers: int,
               ci: tuple[str, str] | None = None) -> None:
    if cur is None or not cur["responses"]:
        row.status, row.n = "no_data", 0
        row.prev_n = int(cur["prev_responses"]) if cur else None
        return
    row.n, row.prev_n = int(cur["responses"]), int(cur["prev_responses"])
    if row.n < min_answers:
        row.status = "not_enough"
        return
    row.current, row.moe = num(cur[value]), num(cur[moe])
    if ci:
        row.ci_lower, row.ci_upper = num(cur[ci[0]]), num(cur[ci[1]])
    # A previous period below the minimum is not a fair comparison: no change is stated.
    if cur[prev] is not None and row.prev_n >= min_answers:
        row.previous, row.change, row.significant = num(cur[prev]), num(cur[change]), cur["change_significant"]


def _share_row(row: KpiRow, cur: dict | None, prev: dict | None, x: str, n: str, min_answers: int, *, value=None) -> None:
    """A KPI that is a share of counts (retention, response rate) with the adjusted test."""
    if cur is None or not cur[n]:
        row.status, row.n = "no_data", 0
        return
    row.n = int(cur[n])
    if row.n < min_answers:
        row.status = "not_enough"
        return
    xs = int(cur[x])
    row.current = num(cur[value]) if value else round(100.0 * xs / row.n, 2)
    row.moe = round(adjusted_share(xs, row.n)[1], 2)
    if prev is not None and prev[n] and int(prev[n]) >= min_answers:
        row.prev_n = int(prev[n])
        row.previous = num(prev[value]) if value else round(100.0 * int(prev[x]) / row.prev_n, 2)
        row.change = round(row.current - row.previous, 2)
        row.significant = share_change_significant(int(prev[x]), row.prev_n, xs, row.n)


def _pct_of(k: int, n: int) -> str:
    """``k of n (p%)`` for a note; ``–`` when n is 0."""
    return f"{k}/{n} ({100.0 * k / n:.0f}%)" if n else "–"


def _by_start(rows: list[dict[str, Any]]) -> dict[date, dict[str, Any]]:
    return {r["period_start"]: r for r in rows}


def report_data(wh: Warehouse, config: ProgramConfig, period: Period, audience: Audience = COMPANY) -> ReportData:
    """Everything one report shows, from the published marts."""
    with wh.engine.connect() as conn:
        return _report_data(_Reader(wh, conn), config, period, audience)


def _report_data(rd: _Reader, config: ProgramConfig, period: Period, aud: Audience) -> ReportData:
    rc = config.reports
    grain, mins = period.grain, rc.min_answers
    first = period.trend_start(rc.trend_periods)
    span = {"grain": grain, "first_start": first, "last_start": period.start}
    dim = {"dimension": aud.dimension, "value": aud.value}
    gaps: list[tuple[str, dict[str, Any]]] = []

    nps_rows = rd.rows("nps_trend", {**span, **dim})
    csat = _by_start(rd.rows("csat_trend", {**span, **dim, "first_start": period.start})).get(period.start)
    ces = _by_start(rd.rows("ces_trend", {**span, **dim, "first_start": period.start})).get(period.start)
    nps_cur = _by_start(nps_rows).get(period.start)

    card = {k: _kpi(config, k) for k in KPI_NAMES}
    _score_row(card["nps"], nps_cur, "nps", "nps_moe", "prev_nps", "nps_change", mins, ("nps_ci_lower", "nps_ci_upper"))
    _score_row(card["csat_pct"], csat, "csat_pct", "csat_pct_moe", "prev_csat_pct", "csat_pct_change", mins)
    _score_row(card["ces_mean"], ces, "ces_mean", "ces_mean_moe", "prev_ces_mean", "ces_mean_change", mins)
    if csat and card["csat_pct"].status == "ok":
        card["csat_pct"].extra["mean"] = num(csat["csat_mean"])
    if ces and card["ces_mean"].status == "ok":
        card["ces_mean"].extra["easy_pct"] = num(ces["ces_easy_pct"])

    # Retention: company-wide only (marts.mart_retention has no dimensions).
    ret = _by_start(rd.rows("retention_trend", {**span, "first_start": period.previous().start}))
    retained = {k: {**v, "retained": int(v["customers_at_end"]) - int(v["customers_acquired"])} for k, v in ret.items()}
    _share_row(card["retention_pct"], retained.get(period.start), retained.get(period.previous().start),
               "retained", "customers_at_start", mins, value="retention_rate_pct")
    if card["retention_pct"].status == "ok":
        card["retention_pct"].extra["lost"] = int(retained[period.start]["customers_lost"])
    if not aud.is_company:
        card["retention_pct"].note = "company_wide_only"

    # Response rate: company-wide, or per industry / touchpoint (the dimensions of its mart).
    response_trend: list[dict[str, Any]] = []
    if aud.is_company or aud.dimension in ("industry", "touchpoint"):
        filt = {"industry": aud.value if aud.dimension == "industry" else None,
                "touchpoint": aud.value if aud.dimension == "touchpoint" else None}
        response_trend = [
            {**r, "response_rate_pct": round(100.0 * int(r["answered"]) / int(r["invitations_sent"]), 2) if r["invitations_sent"] else None}
            for r in rd.rows("response_rate_trend", {**span, **filt})
        ]
        rr = _by_start(response_trend)
        _share_row(card["response_rate_pct"], rr.get(period.start), rr.get(period.previous().start), "answered", "invitations_sent", mins)
    else:
        card["response_rate_pct"].status = "not_available"
        card["response_rate_pct"].note = "not_by_dimension"

    # Revenue coverage: months and quarters, company-wide (active ARR is not split by dimension).
    cov = card["revenue_coverage_pct"]
    if grain == "week":
        cov.status, cov.note = "not_available", "not_weekly"
    elif not aud.is_company:
        cov.status, cov.note = "not_available", "not_by_dimension"
    else:
        cv = _by_start(rd.rows("coverage_trend", {**span, "first_start": period.previous().start}))
        c, p = cv.get(period.start), cv.get(period.previous().start)
        if c is None or not c["active_arr"]:
            cov.status, cov.n = "no_data", 0
        else:
            cov.current, cov.n = num(c["revenue_coverage_pct"]), int(c["active_accounts"])
            cov.extra = {"arr_weighted_nps": num(c["arr_weighted_nps"]), "account_mean_nps": num(c["account_mean_nps"]),
                         "accounts_responding": int(c["accounts_responding"])}
            if p is not None and p["revenue_coverage_pct"] is not None:
                cov.previous = num(p["revenue_coverage_pct"])
                cov.change = round(cov.current - cov.previous, 2) if cov.current is not None else None
            cov.note = "arr_share_untested"
    # Follow-up SLA: cases the owner acted on by their due time (marts.mart_followups), company-wide
    # or per industry (the mart's dimension); with it, the recovery at the next answer by SLA side.
    sla = card["followup_sla_pct"]
    if aud.is_company or aud.dimension == "industry":
        rows = _by_start(rd.rows("followup_sla_trend", {**span, "first_start": period.previous().start,
                                                         "industry": aud.value if aud.dimension == "industry" else None}))
        _share_row(sla, rows.get(period.start), rows.get(period.previous().start), "cases_within_sla",
                   "cases_sla_measured", mins)
        cur = rows.get(period.start)
        if cur is not None:
            sla.extra = {"cases_opened": int(cur["cases_opened"]), "cases_within_sla": int(cur["cases_within_sla"]),
                         "cases_overdue": int(cur["cases_overdue"])}
        if aud.is_company:
            rec = {bool(r["contacted_within_sla"]): r for r in rd.rows("loop_recovery", {"grain": grain, "period_start": period.start})}
            if any(int(r["with_next_answer"] or 0) for r in rec.values()):
                side = {k: (int(rec[k]["recovered"]), int(rec[k]["with_next_answer"])) if k in rec else (0, 0)
                        for k in (True, False)}
                sla.extra["recovery"] = side
                sla.note, sla.note_params = "recovery", {
                    "in_sla": _pct_of(*side[True]), "late": _pct_of(*side[False])}
    else:
        sla.status, sla.note = "not_available", "not_by_dimension"

    for r in card.values():
        if r.status == "ok":
            r.progress_pct = progress(r.baseline, r.target, r.current)
        if r.status != "not_measured" and (r.baseline is None or r.target is None):
            gaps.append(("kpi_without_target", {"kpi": r.kpi, "label": r.label,
                                                 "missing": [k for k in ("baseline", "target") if getattr(r, k) is None]}))

    # NPS by industry / segment: the whole company's picture (a variant highlights its own bar).
    p1 = {"grain": grain, "period_start": period.start}
    by_industry = rd.rows("nps_by_dimension", {**p1, "dimension": "industry"})
    by_segment = rd.rows("nps_by_dimension", {**p1, "dimension": "segment"})

    themes: list[dict[str, Any]] = []
    if grain == "week":
        gaps.append(("themes_not_weekly", {}))
    elif aud.dimension not in ("all", "industry", "segment"):
        gaps.append(("themes_not_by_dimension", {"dimension": aud.dimension}))
    else:
        rows = rd.rows("detractor_themes", {**p1, **dim})
        themes = [{"theme": r["theme"], "mentions": int(r["mentions"]), "comments": int(r["comments"] or 0),
                   "share_pct": round(100.0 * int(r["mentions"]) / int(r["comments"]), 1) if r["comments"] else None}
                  for r in rows][: rc.top_n]

    rf = {"industry": None, "segment": None, "region": None}
    risks: list[dict[str, Any]] = []
    total: dict[str, Any] = {"accounts_at_risk": 0, "arr_at_risk": None, "as_of": None}
    if aud.is_company or aud.dimension in rf:
        if not aud.is_company:
            rf[aud.dimension] = aud.value
        risks = rd.rows("churn_risk", {**rf, "top_n": rc.top_n})
        for r in risks:
            r["arr"], r["arr_at_risk"] = num(r["arr"]), num(r["arr_at_risk"])
        t = rd.rows("churn_risk_total", rf)[0]
        total = {"accounts_at_risk": int(t["accounts_at_risk"] or 0), "arr_at_risk": num(t["arr_at_risk"]), "as_of": t["as_of"]}
    else:
        gaps.append(("risks_not_by_dimension", {"dimension": aud.dimension}))

    segment_empty = not aud.is_company and (nps_cur is None or not nps_cur["responses"])
    if segment_empty:
        gaps.append(("segment_no_data", {"dimension": aud.dimension, "value": aud.value}))
    sc = list(card.values())
    data = ReportData(
        kind=period.kind, period=period, audience=aud, as_of=total.get("as_of"), min_answers=mins, scorecard=sc,
        nps_band=nps_band(card["nps"].current) if card["nps"].status == "ok" else None,
        nps_trend=[{**r, **{k: num(r[k]) for k in ("nps", "nps_moe", "nps_ci_lower", "nps_ci_upper")}} for r in nps_rows],
        response_trend=response_trend,
        by_industry=[{**r, **{k: num(r[k]) for k in ("nps", "nps_moe", "nps_ci_lower", "nps_ci_upper", "prev_nps")}} for r in by_industry],
        by_segment=[{**r, **{k: num(r[k]) for k in ("nps", "nps_moe", "nps_ci_lower", "nps_ci_upper", "prev_nps")}} for r in by_segment],
        themes=themes, risks=risks, risk_total=total, gaps=gaps,
    )
    if data.no_answers and not segment_empty:
        gaps.insert(0, ("no_answers", {}))
    return data

