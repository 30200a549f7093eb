"""The demo's headline figures, from the same report data stakeholders read (``report_data``).

The period is the latest complete month in the published marts (the latest month with answers
while none is complete; ``month_complete`` says which). ``overall`` adds every counted answer.
"""

from __future__ import annotations

from typing import Any

from nps.config import ProgramConfig, load_config
from nps.reports.data import COMPANY, KpiRow, num, report_data
from nps.reports.periods import PeriodError, period_of
from nps.warehouse import Warehouse


def _ratio(row: dict[str, Any] | None, fn) -> float | None:
    return None if not row or not int(row["responses"]) else round(fn(row), 2)


def headline(wh: Warehouse, config: ProgramConfig | None = None, *, top: int = 5) -> dict[str, Any]:
    """Headline figures plus ``lines``, the same as printable text (the demo prints these)."""
    from nps.reports.data import latest_complete_period

    config = config or load_config()
    config = config.model_copy(update={"reports": config.reports.model_copy(update={"top_n": top})})
    out: dict[str, Any] = {"month": None, "month_complete": None, "data": None}
    try:
        period = latest_complete_period(wh, "monthly")
        complete = True
        if not (wh.scalar("SELECT MAX(responses) FROM marts.mart_nps WHERE period_grain = 'month' AND dimension = 'all' "
                          "AND period_start = :s", {"s": period.start}) or 0):
            raise PeriodError("the latest complete month has no answers")
    except PeriodError:
        start = wh.scalar(wh.read_sql("reports/latest_period"), {"grain": "month"})
        period, complete = (period_of("monthly", start), False) if start is not None else (None, None)
    if period is not None:
        data = report_data(wh, config, period, COMPANY)
        out.update(month=period.start, month_complete=complete, data=data)
        out["top_risks"], out["arr_at_risk_total"], out["top_themes"] = data.risks, data.risk_total["arr_at_risk"], data.themes
    else:
        out["top_risks"], out["arr_at_risk_total"], out["top_themes"] = [], None, []
    by_type = {r["survey_type"]: r for r in wh.query(wh.read_sql("reports/overall"))}
    out["overall"] = {
        "nps": _ratio(by_type.get("nps"), lambda r: 100.0 * (int(r["top_box"]) - int(r["detractors"])) / int(r["responses"])),
        "csat_pct": _ratio(by_type.get("csat"), lambda r: 100.0 * int(r["top_box"]) / int(r["responses"])),
        "ces_mean": _ratio(by_type.get("ces"), lambda r: float(r["score_sum"]) / int(r["responses"])),
        "responses": {k: int(v["responses"]) for k, v in by_type.items()},
    }
    out["lines"] = format_headline(out)
    return out


def _f(v: Any, fmt: str = "{:.1f}") -> str:
    return "n/a" if v is None else fmt.format(v)


def _cell(r: KpiRow, fmt: str = "{:.1f}") -> str:
    if r.status == "not_enough":
        return f"not enough answers (n={r.n})"
    if r.status == "no_data":
        return "no answers"
    return _f(r.current, fmt)


def format_headline(h: dict[str, Any]) -> list[str]:
    """Printable lines for a ``headline`` dict."""
    lines = []
    d = h.get("data")
    if d is not None:
        tag = "" if h["month_complete"] else " (month in progress)"
        m = h["month"]
        n = d.kpi("nps")
        verdict = {"better": "significant", "worse": "significant", "no_significant_change": "no significant change (noise)",
                   "no_previous": "no previous month", "untested": "not tested", "none": "n/a"}[n.verdict]
        ci = f", 95% CI {_f(n.ci_lower)}..{_f(n.ci_upper)}" if n.status == "ok" else ""
        lines.append(f"NPS {m:%Y-%m}{tag}: {_cell(n)} ±{_f(n.moe)} (n={n.n}{ci}); change {_f(n.change, '{:+.1f}')}: {verdict}")
        c = d.kpi("csat_pct")
        lines.append(f"CSAT {m:%Y-%m}: {_cell(c)}% satisfied ±{_f(c.moe)}, mean {_f(c.extra.get('mean'), '{:.2f}')} (n={c.n})")
        e = d.kpi("ces_mean")
        lines.append(f"CES {m:%Y-%m}: mean {_cell(e, '{:.2f}')} ±{_f(e.moe, '{:.2f}')}, {_f(e.extra.get('easy_pct'))}% easy (n={e.n})")
        r = d.kpi("retention_pct")
        lines.append(f"retention {m:%Y-%m}: {_cell(r)}% of {r.n} customers at the start ({r.extra.get('lost', 0)} accounts lost)")
        rr = d.kpi("response_rate_pct")
        cov = d.kpi("revenue_coverage_pct")
        lines.append(f"response rate {_cell(rr)}%, ARR-weighted NPS {_f(cov.extra.get('arr_weighted_nps'))}, "
                     f"revenue coverage {_f(cov.current)}%")
    o = h["overall"]
    lines.append(f"overall: NPS {_f(o['nps'])}, CSAT {_f(o['csat_pct'])}%, CES {_f(o['ces_mean'], '{:.2f}')} from {o['responses']}")
    lines.append(f"ARR at risk: {_f(h['arr_at_risk_total'], '{:,.0f}')}; top risks:")
    for r in h["top_risks"]:
        lines.append(f"  {r['account_name']} ({r['industry']}, {r['owner_name']}): ARR at risk {_f(num(r['arr_at_risk']), '{:,.0f}')} "
                     f"[{r['risk_level']}] {r['reasons']}")
    themes = ", ".join(f"{t['theme']} {t['share_pct']}%" for t in h["top_themes"]) or "none"
    lines.append(f"top themes in negative comments: {themes}")
    return lines
