"""Report rendering: the HTML email (table layout, ~600 px, CSS inlined with css-inline), the
archived HTML (same page, images by file name), the plain-text alternative with the whole
scorecard, and the scorecard CSV.

Templates: ``include/templates/reports/report.<locale>.{html,txt}.j2`` (the locale's prose,
extending ``_report.html.j2``), ``qbr_owner.<locale>.html.j2`` and ``index.html.j2``. Jinja2
autoescapes every HTML template; numbers are formatted per locale (``nps.reports.i18n``).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from nps import TEMPLATES_DIR
from nps.reports.charts import Chart
from nps.reports.data import KpiRow, ReportData
from nps.reports.i18n import fmt_num, t

REPORT_TEMPLATES_DIR = TEMPLATES_DIR / "reports"
CSV_COLUMNS = ["kpi", "label", "unit", "status", "n", "baseline", "previous", "current", "target", "change",
               "moe_95", "significant", "verdict", "progress_to_target_pct", "note"]


@dataclass
class RenderedReport:
    """One report for one audience and locale, in every format."""

    kind: str
    period_key: str
    audience: str
    locale: str
    subject: str
    html_email: str      # images as cid:<chart name>
    html_archive: str    # images as <chart name>.png next to it
    text: str
    csv: bytes
    charts: list[Chart] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)

    @property
    def images(self) -> list[Chart]:
        return [c for c in self.charts if c.png]


@lru_cache(maxsize=4)
def _env(directory: str):
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(t=t, fmt_num=fmt_num)
    return env


def template(name: str):
    return _env(str(REPORT_TEMPLATES_DIR)).get_template(name)


def _value(r: KpiRow, v: float | None, loc: str) -> str:
    if v is None:
        return "–"
    s = fmt_num(v, r.decimals, loc)
    return s + ("%" if r.unit == "%" else "")


def cell(r: KpiRow, loc: str) -> str:
    """The 'current' cell: a number with its margin, or the reason there is none, in words."""
    if r.status == "not_enough":
        return t("not_enough", loc, n=r.n)
    if r.status in ("no_data", "not_available", "not_measured"):
        return t(r.status, loc)
    return _value(r, r.current, loc)


def change_text(r: KpiRow, loc: str) -> tuple[str, str]:
    """(words, css class). A change that is not significant is never coloured."""
    v = r.verdict
    unit = f" {t('pts', loc)}" if r.unit == "pts" else (" pp" if r.unit == "%" else "")
    delta = fmt_num(r.change, r.decimals, loc, sign=True) + unit if r.change is not None else ""
    if v in ("better", "worse"):
        return f"{delta} · {t(v, loc)}", v
    if v == "no_significant_change":
        return f"{t('no_significant_change', loc)} ({delta})", "neutral"
    if v == "untested":
        return f"{delta} ({t('untested', loc)})", "neutral"
    if v == "no_previous":
        return t("no_previous", loc), "neutral"
    return "–", "neutral"


def scorecard_rows(d: ReportData, loc: str) -> list[dict[str, Any]]:
    rows = []
    for r in d.scorecard:
        words, cls = change_text(r, loc)
        prog = r.progress_pct
        rows.append({
            "kpi": r.kpi, "label": t(f"kpi_{r.kpi}", loc), "status": r.status, "n": r.n,
            "baseline": _value(r, r.baseline, loc), "target": _value(r, r.target, loc),
            "previous": _value(r, r.previous, loc), "current": cell(r, loc), "ok": r.status == "ok",
            "moe": ("±" + fmt_num(r.moe, r.decimals, loc)) if r.moe is not None and r.status == "ok" else "",
            "change": words, "change_class": cls,
            "progress": (fmt_num(prog, 0, loc) + "%") if prog is not None else "–",
            "progress_bar": None if prog is None else max(0.0, min(100.0, prog)),
            "note": t(f"note_{r.note}", loc, **r.note_params) if r.note else "",
        })
    return rows


def gap_sentences(d: ReportData, loc: str, extra: list[tuple[str, dict[str, Any]]] = ()) -> list[str]:
    out = []
    for code, params in [*d.gaps, *extra]:
        p = dict(params)
        if code == "kpi_without_target":
            p["label"] = t(f"kpi_{p['kpi']}", loc)
            p["missing"] = t("and", loc).join(t(k, loc) for k in p["missing"])
        out.append(t(f"gap_{code}", loc, **{k: v for k, v in p.items()}))
    return out


def audience_label(d: ReportData) -> str:
    a = d.audience
    return "" if a.is_company else f"{a.value} ({a.dimension})"


def subject(d: ReportData, loc: str) -> str:
    aud = audience_label(d)
    head = f"{t(d.kind, loc)} · {d.period.label(loc)}" + (f" · {aud}" if aud else "")
    n = d.kpi("nps")
    if n.status == "ok":
        v = n.verdict
        words = t(v, loc) if v in ("better", "worse", "no_significant_change") else ""
        head += f" · NPS {fmt_num(n.current, 1, loc)}" + (f" ({words})" if words else "")
    return head


def scorecard_csv(d: ReportData) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for r in d.scorecard:
        w.writerow([r.kpi, r.label, r.unit, r.status, "" if r.n is None else r.n,
                    *("" if v is None else f"{v:.2f}" for v in (r.baseline, r.previous, r.current, r.target, r.change, r.moe)),
                    "" if r.significant is None else str(r.significant).lower(), r.verdict,
                    "" if r.progress_pct is None else f"{r.progress_pct:.1f}", r.note or ""])
    return buf.getvalue().encode("utf-8")


def _inline(html: str) -> str:
    import css_inline

    return css_inline.inline(html)


def render_report(d: ReportData, loc: str, charts: list[Chart], *, sender_name: str = "", archive_url: str | None = None,
                  extra_gaps: list[tuple[str, dict[str, Any]]] = ()) -> RenderedReport:
    """Render one report in every format for one locale."""
    gaps = gap_sentences(d, loc, list(extra_gaps))
    ctx = {
        "d": d, "loc": loc, "title": t(d.kind, loc), "period_label": d.period.label(loc), "audience": audience_label(d),
        "rows": scorecard_rows(d, loc), "gaps": gaps, "charts": charts, "sender_name": sender_name,
        "nps": d.kpi("nps"), "band": d.nps_band, "as_of": d.as_of, "archive_url": archive_url,
        "risk_total": d.risk_total, "min_answers": d.min_answers,
    }
    html_t = template(f"report.{loc}.html.j2")
    html_email = _inline(html_t.render(**ctx, img=lambda c: f"cid:{c.name}", archived=False))
    html_archive = _inline(html_t.render(**ctx, img=lambda c: c.filename, archived=True))
    text = template(f"report.{loc}.txt.j2").render(**ctx)
    return RenderedReport(d.kind, d.period.key, d.audience.name, loc, subject(d, loc), html_email, html_archive, text,
                          scorecard_csv(d), charts, gaps)
