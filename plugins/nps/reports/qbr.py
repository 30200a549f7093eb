"""The QBR pack's per-account-owner pages: for each owner, their accounts' NPS by quarter, who
answered in the quarter and how, the churn-risk reasons and the open follow-up cases
(``marts.mart_churn_risk``, ``marts.mart_account_nps``, ``marts.fct_survey_responses``,
``marts.fct_followups``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nps.config import ProgramConfig
from nps.reports.data import num
from nps.reports.periods import Period
from nps.reports.render import _inline, template
from nps.warehouse import Warehouse

HISTORY_QUARTERS = 4


@dataclass
class OwnerPage:
    owner: str
    locale: str
    subject: str
    html: str
    text: str
    accounts: list[dict[str, Any]] = field(default_factory=list)


def owner_data(wh: Warehouse, period: Period) -> dict[str, list[dict[str, Any]]]:
    """Accounts per owner, each with its quarterly NPS history, the quarter's answers and its open
    follow-up cases."""
    import sqlalchemy as sa

    def rows(conn, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        return [dict(r._mapping) for r in conn.execute(sa.text(wh.read_sql(f"reports/{name}")), params)]

    first = period.trend_start(HISTORY_QUARTERS) if period.grain == "quarter" else period.start
    with wh.engine.connect() as conn:
        accounts = rows(conn, "qbr_accounts", {})
        history = rows(conn, "qbr_account_history", {"first_start": first, "last_start": period.start})
        answers = rows(conn, "qbr_answers", {"period_start": datetime.combine(period.start, datetime.min.time()),
                                              "period_end": datetime.combine(period.end, datetime.min.time())})
        cases = rows(conn, "qbr_cases", {})
    by_acc_hist: dict[str, list[dict[str, Any]]] = {}
    for h in history:
        by_acc_hist.setdefault(h["account_id"], []).append({**h, "account_nps": num(h["account_nps"])})
    by_acc_ans: dict[str, list[dict[str, Any]]] = {}
    for a in answers:
        by_acc_ans.setdefault(a["account_id"], []).append(a)
    by_acc_cases: dict[str, list[dict[str, Any]]] = {}
    for c in cases:
        by_acc_cases.setdefault(c["account_id"], []).append(c)
    out: dict[str, list[dict[str, Any]]] = {}
    for a in accounts:
        acc = {**a, "arr": num(a["arr"]), "arr_at_risk": num(a["arr_at_risk"]), "nps_mean_score": num(a["nps_mean_score"]),
               "history": by_acc_hist.get(a["account_id"], []), "answers": by_acc_ans.get(a["account_id"], []),
               "cases": by_acc_cases.get(a["account_id"], [])}
        out.setdefault(a["owner_name"], []).append(acc)
    return out


def owner_pages(wh: Warehouse, config: ProgramConfig, period: Period, *, locale: str | None = None) -> list[OwnerPage]:
    """One page per account owner with at least one account, in ``locale`` (program default)."""
    from nps.reports.i18n import t

    loc = locale or config.program.default_locale
    pages = []
    for owner, accounts in sorted(owner_data(wh, period).items()):
        ctx = {"owner": owner, "accounts": accounts, "period_label": period.label(loc), "loc": loc,
               "sender_name": config.sender.name, "quarters": HISTORY_QUARTERS,
               "answered": sum(1 for a in accounts if a["answers"]),
               "at_risk": sum(a["arr_at_risk"] or 0 for a in accounts)}
        html = _inline(template(f"qbr_owner.{loc}.html.j2").render(**ctx))
        text = template(f"qbr_owner.{loc}.txt.j2").render(**ctx)
        subject = f"{t('quarterly', loc)} · {period.label(loc)} · {owner}"
        pages.append(OwnerPage(owner, loc, subject, html, text, accounts))
    return pages
