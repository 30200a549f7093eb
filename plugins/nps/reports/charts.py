"""Report charts: PNGs drawn with matplotlib on the Agg backend (no browser, no network).

Every chart comes with alt text and a table of the same numbers (``Chart.table``), so a mail
client that blocks images still shows everything. Text in the images is in the report's locale.
matplotlib is imported inside the functions (a DAG file never pays for it).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from nps.reports.data import ReportData
from nps.reports.i18n import fmt_num, t

WIDTH_IN, DPI = 5.8, 110  # ~640 px wide: crisp in a 600 px email column
INK, GRID, ACCENT, BAND = "#1f2a37", "#e5e7eb", "#1d4ed8", "#bfdbfe"
GREEN, GREY, RED = "#15803d", "#9ca3af", "#b91c1c"


@dataclass
class Chart:
    name: str                  # file name stem and Content-ID
    title: str
    alt: str
    png: bytes | None          # None: nothing to draw (the table says so)
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    note: str = ""

    @property
    def filename(self) -> str:
        return f"{self.name}.png"


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "font.size": 8.5, "axes.edgecolor": GRID, "axes.labelcolor": INK, "xtick.color": INK, "ytick.color": INK,
        "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.color": GRID,
        "grid.linewidth": 0.6, "axes.axisbelow": True, "legend.frameon": False, "font.family": "DejaVu Sans",
    })
    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    # Fixed margins (set per chart) instead of bbox_inches="tight": one draw per chart, not two.
    fig.savefig(buf, format="png", dpi=DPI)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _label(period_start, grain: str) -> str:
    if grain == "week":
        iso = period_start.isocalendar()
        return f"W{iso.week:02d}"
    if grain == "month":
        return f"{period_start:%m/%y}"
    return f"Q{(period_start.month - 1) // 3 + 1}/{period_start:%y}"


def nps_trend(d: ReportData, loc: str) -> Chart:
    grain, mins = d.period.grain, d.min_answers
    pts = [r for r in d.nps_trend if r["responses"] and r["responses"] >= mins and r["nps"] is not None]
    kpi = d.kpi("nps")
    rows = [[_label(r["period_start"], grain), str(r["responses"]),
             fmt_num(r["nps"], 1, loc) if r["responses"] >= mins and r["nps"] is not None else
             t("not_enough_short", loc, n=r["responses"]) if r["responses"] else "–",
             f"{fmt_num(r['nps_ci_lower'], 1, loc)} – {fmt_num(r['nps_ci_upper'], 1, loc)}"
             if r["nps_ci_lower"] is not None and r["responses"] >= mins else "–"]
            for r in d.nps_trend]
    # One period only (a program's first report): "over the last 1 periods" reads wrong in both languages.
    title = t("chart_nps_trend", loc, n=len(d.nps_trend)) if len(d.nps_trend) != 1 else t("chart_nps_trend_one", loc)
    chart = Chart("nps_trend", title, "", None, [t("col_period", loc), "n", "NPS", t("col_ci95", loc)], rows)
    if not pts:
        chart.alt = t("alt_nothing", loc, what=title)
        return chart
    plt = _plt()
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 2.6))
    fig.subplots_adjust(left=0.08, right=0.98, top=0.84, bottom=0.11)
    xs = [_label(r["period_start"], grain) for r in d.nps_trend]
    idx = {r["period_start"]: i for i, r in enumerate(d.nps_trend)}
    px = [idx[r["period_start"]] for r in pts]
    ax.fill_between(px, [r["nps_ci_lower"] for r in pts], [r["nps_ci_upper"] for r in pts], color=BAND, alpha=0.8,
                    linewidth=0, label=t("legend_ci", loc))
    ax.plot(px, [r["nps"] for r in pts], color=ACCENT, marker="o", markersize=3.5, linewidth=1.8, label="NPS")
    for val, style, key in ((kpi.baseline, ":", "baseline"), (kpi.target, "--", "target")):
        if val is not None:
            ax.axhline(val, color=GREY if key == "baseline" else GREEN, linestyle=style, linewidth=1,
                       label=f"{t(key, loc)} {fmt_num(val, 0, loc)}")
    ax.set_xticks(range(len(xs)), xs, rotation=0, fontsize=7)
    ax.set_xlim(-0.5, len(xs) - 0.5)
    ax.set_ylim(max(-100, min(r["nps_ci_lower"] for r in pts) - 10), min(100, max([r["nps_ci_upper"] for r in pts] + [kpi.target or -100]) + 10))
    ax.legend(loc="lower left", ncol=4, fontsize=7, bbox_to_anchor=(0, 1.0))
    chart.png = _png(fig)
    last = pts[-1]
    chart.alt = t("alt_nps_trend", loc, n=len(pts), first=fmt_num(pts[0]["nps"], 1, loc), last=fmt_num(last["nps"], 1, loc),
                  lo=fmt_num(last["nps_ci_lower"], 1, loc), hi=fmt_num(last["nps_ci_upper"], 1, loc))
    return chart


def categories(d: ReportData, loc: str) -> Chart:
    grain = d.period.grain
    rows_in = [r for r in d.nps_trend if r["responses"] >= d.min_answers]
    shares = [(r, *(100.0 * r[k] / r["responses"] for k in ("promoters", "passives", "detractors"))) for r in rows_in]
    title = t("chart_categories", loc)
    by_start = {r["period_start"]: (p, q, x) for r, p, q, x in shares}
    rows = []
    for r in d.nps_trend:  # in period order; periods below the minimum are listed, not drawn
        if r["period_start"] in by_start:
            p, q, x = by_start[r["period_start"]]
            rows.append([_label(r["period_start"], grain), str(r["responses"]), fmt_num(p, 1, loc) + "%",
                         fmt_num(q, 1, loc) + "%", fmt_num(x, 1, loc) + "%"])
        elif r["responses"]:
            rows.append([_label(r["period_start"], grain), str(r["responses"]), t("not_enough_short", loc, n=r["responses"]), "", ""])
    chart = Chart("categories", title, "", None,
                  [t("col_period", loc), "n", t("promoters", loc), t("passives", loc), t("detractors", loc)], rows)
    if not shares:
        chart.alt = t("alt_nothing", loc, what=title)
        return chart
    plt = _plt()
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 2.4))
    fig.subplots_adjust(left=0.08, right=0.98, top=0.85, bottom=0.11)
    xs = [_label(r["period_start"], grain) for r, *_ in shares]
    p = [s[1] for s in shares]
    q = [s[2] for s in shares]
    x = [s[3] for s in shares]
    ax.bar(xs, x, color=RED, label=t("detractors", loc), width=0.7)
    ax.bar(xs, q, bottom=x, color=GREY, label=t("passives", loc), width=0.7)
    ax.bar(xs, p, bottom=[a + b for a, b in zip(x, q, strict=True)], color=GREEN, label=t("promoters", loc), width=0.7)
    ax.set_ylim(0, 100)
    ax.set_yticks([0, 50, 100], ["0%", "50%", "100%"])
    ax.tick_params(axis="x", labelsize=7)
    ax.legend(loc="lower left", ncol=3, fontsize=7, bbox_to_anchor=(0, 1.0))
    chart.png = _png(fig)
    r, pp, qq, xx = shares[-1]
    chart.alt = t("alt_categories", loc, p=fmt_num(pp, 0, loc), q=fmt_num(qq, 0, loc), x=fmt_num(xx, 0, loc))
    return chart


def nps_by(d: ReportData, loc: str, dimension: str) -> Chart:
    rows_in = d.by_industry if dimension == "industry" else d.by_segment
    mine = d.audience.value if d.audience.dimension == dimension else None
    ok = [r for r in rows_in if r["responses"] >= d.min_answers and r["nps"] is not None]
    title = t(f"chart_nps_by_{dimension}", loc)
    rows = [[("▶ " if r["dimension_value"] == mine else "") + r["dimension_value"], str(r["responses"]),
             fmt_num(r["nps"], 1, loc) if r in ok else t("not_enough_short", loc, n=r["responses"]),
             f"{fmt_num(r['nps_ci_lower'], 1, loc)} – {fmt_num(r['nps_ci_upper'], 1, loc)}" if r in ok else "–"]
            for r in rows_in]
    chart = Chart(f"nps_by_{dimension}", title, "", None, [t(f"col_{dimension}", loc), "n", "NPS", t("col_ci95", loc)], rows)
    if not ok:
        chart.alt = t("alt_nothing", loc, what=title)
        return chart
    plt = _plt()
    ok = sorted(ok, key=lambda r: r["nps"])
    height = 0.6 + 0.3 * len(ok)
    fig, ax = plt.subplots(figsize=(WIDTH_IN, height))
    fig.subplots_adjust(left=0.27, right=0.98, top=1 - 0.1 / height, bottom=0.35 / height)
    ys = range(len(ok))
    for y, r in zip(ys, ok, strict=True):
        colour = ACCENT if mine is None or r["dimension_value"] == mine else GREY
        ax.plot([r["nps_ci_lower"], r["nps_ci_upper"]], [y, y], color=colour, linewidth=2.2, alpha=0.45, solid_capstyle="round")
        ax.plot([r["nps"]], [y], marker="o", color=colour, markersize=5)
        ax.annotate(f"{fmt_num(r['nps'], 0, loc)} (n={r['responses']})", (r["nps_ci_upper"], y), xytext=(4, -3),
                    textcoords="offset points", fontsize=7, color=INK)
    ax.set_yticks(list(ys), [r["dimension_value"] for r in ok])
    ax.axvline(0, color=GREY, linewidth=0.8)
    ax.set_xlim(-100, 125)
    ax.set_xticks([-100, -50, 0, 50, 100])  # few ticks: each one costs a line and a text to draw
    ax.grid(axis="y", visible=False)
    chart.png = _png(fig)
    best, worst = ok[-1], ok[0]
    chart.alt = t("alt_nps_by", loc, what=title, best=best["dimension_value"], best_nps=fmt_num(best["nps"], 0, loc),
                  worst=worst["dimension_value"], worst_nps=fmt_num(worst["nps"], 0, loc))
    return chart


def response_rate(d: ReportData, loc: str) -> Chart:
    grain = d.period.grain
    pts = [r for r in d.response_trend if r["response_rate_pct"] is not None and r["invitations_sent"] >= d.min_answers]
    title = t("chart_response_rate", loc)
    rows = [[_label(r["period_start"], grain), str(r["invitations_sent"]), str(r["answered"]),
             (fmt_num(r["response_rate_pct"], 1, loc) + "%" if r["invitations_sent"] >= d.min_answers else
              t("not_enough_short", loc, n=r["invitations_sent"])) if r["response_rate_pct"] is not None else "–"]
            for r in d.response_trend]
    chart = Chart("response_rate", title, "", None, [t("col_period", loc), t("col_sent", loc), t("col_answered", loc), "%"], rows)
    if not pts:
        chart.alt = t("alt_nothing", loc, what=title)
        return chart
    plt = _plt()
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 2.1))
    fig.subplots_adjust(left=0.08, right=0.98, top=0.84, bottom=0.13)
    xs = [_label(r["period_start"], grain) for r in pts]
    ax.bar(xs, [r["response_rate_pct"] for r in pts], color=ACCENT, width=0.6)
    kpi = d.kpi("response_rate_pct")
    if kpi.target is not None:
        ax.axhline(kpi.target, color=GREEN, linestyle="--", linewidth=1, label=f"{t('target', loc)} {fmt_num(kpi.target, 0, loc)}%")
        ax.legend(loc="lower left", fontsize=7, bbox_to_anchor=(0, 1.0))
    ax.set_ylim(0, max([r["response_rate_pct"] for r in pts] + [kpi.target or 0]) * 1.2 + 1)
    ax.yaxis.set_major_formatter(lambda v, _p: f"{v:.0f}%")
    ax.tick_params(axis="x", labelsize=7)
    chart.png = _png(fig)
    chart.alt = t("alt_response_rate", loc, last=fmt_num(pts[-1]["response_rate_pct"], 1, loc), n=len(pts))
    return chart


def _hbars(name: str, title: str, labels: list[str], values: list[float], texts: list[str], colour: str) -> bytes:
    plt = _plt()
    height = 0.3 + 0.28 * len(values)
    fig, ax = plt.subplots(figsize=(WIDTH_IN, height))
    fig.subplots_adjust(left=0.3, right=0.97, top=1 - 0.08 / height, bottom=0.1 / height)
    ys = list(range(len(values)))[::-1]
    ax.barh(ys, values, color=colour, height=0.62)
    for y, v, s in zip(ys, values, texts, strict=True):
        ax.annotate(s, (v, y), xytext=(4, -3), textcoords="offset points", fontsize=7, color=INK)
    ax.set_yticks(ys, labels)
    ax.set_xlim(0, max(values) * 1.3 if values and max(values) > 0 else 1)
    ax.set_xticks([])  # every bar is labelled with its value
    ax.grid(False)
    ax.spines["bottom"].set_visible(False)
    return _png(fig)


def themes(d: ReportData, loc: str) -> Chart:
    title = t("chart_themes", loc)
    rows = [[t(f"theme_{r['theme']}", loc, default=r["theme"]), str(r["mentions"]), fmt_num(r["share_pct"], 1, loc) + "%"] for r in d.themes]
    chart = Chart("themes", title, "", None, [t("col_theme", loc), t("col_mentions", loc), t("col_share", loc)], rows)
    if not d.themes:
        chart.alt = t("alt_nothing", loc, what=title)
        return chart
    chart.png = _hbars("themes", title, [r[0] for r in rows], [r["share_pct"] or 0 for r in d.themes], [r[2] for r in rows], RED)
    top = d.themes[0]
    chart.alt = t("alt_themes", loc, theme=rows[0][0], share=fmt_num(top["share_pct"], 1, loc), comments=top["comments"])
    return chart


def risks(d: ReportData, loc: str) -> Chart:
    title = t("chart_risks", loc)
    rows = [[r["account_name"] or r["account_id"], r["industry"] or "", r["owner_name"] or "", fmt_num(r["arr_at_risk"], 0, loc),
             t(f"risk_{r['risk_level']}", loc, default=r["risk_level"]), r["reasons"]] for r in d.risks]
    chart = Chart("risks", title, "", None, [t("col_account", loc), t("col_industry", loc), t("col_owner", loc),
                                            t("col_arr_at_risk", loc), t("col_risk", loc), t("col_reasons", loc)], rows)
    shown = [r for r in d.risks if (r["arr_at_risk"] or 0) > 0]
    if not shown:
        chart.alt = t("alt_nothing", loc, what=title)
        return chart
    chart.png = _hbars("risks", title, [r["account_name"] or r["account_id"] for r in shown], [r["arr_at_risk"] for r in shown],
                       [fmt_num(r["arr_at_risk"], 0, loc) for r in shown], RED)
    chart.alt = t("alt_risks", loc, n=len(shown), top=shown[0]["account_name"], arr=fmt_num(shown[0]["arr_at_risk"], 0, loc))
    return chart


def report_charts(d: ReportData, loc: str, *, shared: dict[str, Chart] | None = None, period_key: str = "") -> list[Chart]:
    """Every chart of one report, in reading order. ``shared`` caches the company-wide charts
    (NPS by industry and by segment) of a period and locale across the variants that show them."""
    out = [nps_trend(d, loc), categories(d, loc), response_rate(d, loc)]
    for dim in ("industry", "segment"):
        key = f"{period_key or d.period.key}:{dim}:{loc}:{d.audience.dimension == dim and d.audience.value}"
        if shared is not None and key in shared:
            out.append(shared[key])
        else:
            c = nps_by(d, loc, dim)
            if shared is not None:
                shared[key] = c
            out.append(c)
    if d.period.grain != "week":
        out.append(themes(d, loc))
    out.append(risks(d, loc))
    return out


def chart_summary(charts: list[Chart]) -> dict[str, Any]:
    return {c.name: {"alt": c.alt, "bytes": len(c.png or b"")} for c in charts}
