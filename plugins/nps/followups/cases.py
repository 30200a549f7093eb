"""Cases after they open: owner alerts, escalation, the daily digest, and case files.

- **Owner alerts.** A run's new cases go to their account owner, one email per owner per run
  (send key ``alert/<owner hash>/<hash of the cases>``); a case whose account has no usable
  owner address goes to ``followups.cs_lead`` and is reported. The key a case is alerted under is
  kept on the case, so a run killed after the send finds the same key and sends nothing twice.
  Each case shows the score, the comment, the contact's role and earlier scores, the account's
  ARR and its churn-risk reasons (``marts.mart_churn_risk``; said so when the mart is not built).
  An **urgent** case (an NPS detractor on an account with ARR at or above
  ``followups.urgent_arr_threshold``) is not in the owner's list: the run's urgent cases of an
  owner go first, in an URGENT email of their own (``urgent/<owner hash>/<hash of the cases>``,
  ledger kind ``urgent_alert``); in an hourly run that is nearly always one case.
- **Language.** Staff emails are rendered in the recipient's locale (``followups.owner_locales``
  by address, a contact's ``locale``, else ``followups.staff_locale``), English when a template
  is missing in that locale (logged).
- **Escalation.** An open case past its due time climbs one level per run, once per level
  (``escalation/<case_id>/<level>``), when the SLA clock has run ``after_hours`` past its due
  time. A case marked in progress or resolved stops climbing.
- **Digest.** One email per digest recipient per local day (``digest/<day>/<recipient hash>``),
  sent by the first run after ``digest_hour``; with ``followups.owner_digest`` also one per
  account owner with open cases (``owner-digest/<day>/<owner hash>``).
- **Case files.** ``cases/*.csv`` in the landing area (``case_id,status[,note,updated_at,updated_by]``)
  move cases forward (open → in_progress → resolved) with the ingestion's audit discipline: every
  row read is applied, quarantined (unknown case, bad status, a backward transition) or a
  duplicate (the case is already in that status), recorded in ``ops.ingest_files`` and
  ``ops.quarantine``, and the file is archived.

Every email goes through ``nps.ledger.send_once``; the cases take the ledger's outcome afterwards.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from nps.config import ProgramConfig
from nps.email.base import Batch, Recipient
from nps.email.render import MessageTemplate, _env
from nps.followups.decide import append_history
from nps.followups.render import FOLLOWUP_TEMPLATES_DIR
from nps.followups.sla import add_hours
from nps.ledger import recipient_hash
from nps.warehouse import LIST_CHUNK, Warehouse, holding

log = logging.getLogger(__name__)

CASE_STATUSES = ("open", "in_progress", "resolved")
_ORDER = {s: i for i, s in enumerate(CASE_STATUSES)}


def _valid(email: str | None) -> bool:
    from nps.followups.decide import _EMAIL

    return bool(email) and bool(_EMAIL.match(str(email).strip()))


def render_staff(config: ProgramConfig, template: str, ctx: dict[str, Any], locale: str = "en") -> MessageTemplate:
    """A staff email (``staff_<template>.<locale>.{html,txt}.j2``, English when the locale has
    none), rendered in full for one recipient."""
    env = _env(str(FOLLOWUP_TEMPLATES_DIR))
    if not (FOLLOWUP_TEMPLATES_DIR / f"staff_{template}.{locale}.html.j2").is_file():
        log.warning("staff email %s has no %s template: sent in English", template, locale)
        locale = "en"
    full = {"program": config.program, "sender": config.sender, **ctx}
    parts = {}
    subject = ""
    for ext in ("html", "txt"):
        t = env.get_template(f"staff_{template}.{locale}.{ext}.j2")
        parts[ext] = t.render(full)
        if ext == "txt":
            subject = " ".join("".join(t.blocks["subject"](t.new_context(full))).split())
    return MessageTemplate(f"staff.{template}", locale, subject, parts["txt"], parts["html"])


#: The computed words of staff emails (dates, churn-risk reasons) per locale; the rest is in the
#: templates. Risk reasons are marts.mart_churn_risk's own phrases.
_WEEKDAYS = {"en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
             "pl": ("pon.", "wt.", "śr.", "czw.", "pt.", "sob.", "niedz.")}
_RISK_WORDS = {
    "pl": {"recent detractor": "niedawna ocena krytyczna", "NPS dropped 3+ points": "NPS spadł o 3+ punkty",
           "low CSAT": "niski CSAT", "high effort": "duży wysiłek (CES)",
           "no answer in two cycles": "brak odpowiedzi od dwóch cykli",
           "overdue detractor case": "zaległa sprawa krytyka"},
}
_RISK_NOTES = {
    "en": {"none": "no risk signals", "no_row": "not in marts.mart_churn_risk (not a current customer)",
           "no_mart": "not known: marts.mart_churn_risk is not built yet"},
    "pl": {"none": "brak sygnałów ryzyka", "no_row": "brak w marts.mart_churn_risk (nie jest obecnym klientem)",
           "no_mart": "nieznane: marts.mart_churn_risk jeszcze nie zbudowano"},
}
#: Earlier scores shown per case (the latest ones).
PREVIOUS_SCORES = 5


def _loc(locale: str) -> str:
    return locale if locale in _WEEKDAYS else "en"


@lru_cache(maxsize=4096)  # a run's cases share a few due times
def _local(ts: datetime, tz: str, locale: str = "en") -> str:
    from datetime import UTC

    local = ts.replace(tzinfo=UTC).astimezone(ZoneInfo(tz))
    return f"{_WEEKDAYS[_loc(locale)][local.weekday()]} {local:%Y-%m-%d %H:%M %Z}"


def _amount(value: Any, locale: str) -> str:
    if value is None:
        return "?"
    text = f"{float(value):,.0f}"
    return text.replace(",", "\u00a0") if _loc(locale) == "pl" else text


def _risk_text(risk: dict[str, Any], locale: str) -> str:
    loc = _loc(locale)
    if risk["status"] != "ok":
        return _RISK_NOTES[loc][risk["status"]]
    if not risk["reasons"]:
        return _RISK_NOTES[loc]["none"]
    words = _RISK_WORDS.get(loc, {})
    return f"{risk['level']}: " + ", ".join(words.get(r, r) for r in risk["reasons"])


def _case_view(c: dict[str, Any], tz: str, locale: str = "en") -> SimpleNamespace:
    """A case as the staff templates show it. An object, not a dict: Jinja looks ``c.x`` up as an
    attribute first, and on a dict that failed lookup was most of a long alert's rendering time."""
    view = {**c, "due_local": _local(c["due_at"], tz, locale), "account_name": c["account_name"] or c["account_id"],
            "contact_name": c["contact_name"] or c["contact_id"], "arr_text": _amount(c.get("arr"), locale)}
    view["previous_text"] = ", ".join(f"{p['survey_type'].upper()} {p['score']} ({p['responded_at']:%Y-%m-%d})"
                                      for p in c.get("previous") or [])
    view["risk_text"] = _risk_text(c.get("risk") or {"status": "no_mart"}, locale)
    return SimpleNamespace(**view)


def churn_risk(wh: Warehouse, account_ids: list[str]) -> dict[str, dict[str, Any]] | None:
    """The churn-risk level and reasons of these accounts from ``marts.mart_churn_risk``; None when
    the mart is missing or empty (not built yet), which the emails say instead of failing."""
    try:
        if not wh.scalar("SELECT COUNT(*) FROM (SELECT 1 FROM marts.mart_churn_risk LIMIT 1) AS x"):
            return None
        rows = wh.query_for_list(
            "SELECT account_id, risk_level, reasons FROM marts.mart_churn_risk "
            "WHERE account_id IN (SELECT UNNEST(CAST(:ids AS VARCHAR[])))", {}, "ids", sorted(set(account_ids)))
    except Exception as err:  # noqa: BLE001 - an alert must not fail because the marts are not there
        log.warning("owner alerts without churn-risk reasons: marts.mart_churn_risk is not readable (%s)",
                    str(err).splitlines()[0])
        return None
    return {r["account_id"]: {"status": "ok", "level": r["risk_level"],
                              "reasons": [x.strip() for x in (r["reasons"] or "").split(",") if x.strip()]}
            for r in rows}


def enrich(wh: Warehouse, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cases with their contact's earlier scores (before the case opened, latest
    ``PREVIOUS_SCORES``) and their account's churn risk."""
    if not rows:
        return rows
    previous: dict[str, list[dict[str, Any]]] = {}
    for p in wh.query_for_list(wh.read_sql("followups/previous_scores"), {}, "contacts",
                               sorted({c["contact_id"] for c in rows})):
        previous.setdefault(p["contact_id"], []).append(p)
    risk = churn_risk(wh, [c["account_id"] for c in rows])
    out = []
    for c in rows:
        earlier = [p for p in previous.get(c["contact_id"], [])
                   if p["survey_id"] != c["survey_id"] and p["responded_at"] <= c["opened_at"]]
        r = {"status": "no_mart"} if risk is None else risk.get(c["account_id"], {"status": "no_row"})
        out.append({**c, "previous": earlier[-PREVIOUS_SCORES:], "risk": r})
    return out


def _staff_batch(config: ProgramConfig, template: str, ctx: dict[str, Any], *, send_key: str, email: str, name: str,
                 folder: str, category: str, locale: str = "en", cases: list[dict[str, Any]] | None = None) -> Batch:
    views = [_case_view(c, config.followups.timezone, locale) for c in cases or []]
    tmpl = render_staff(config, template, {**ctx, "cases": views, "recipient_name": name}, locale)
    return Batch(
        batch_id=send_key.replace("/", "."), template=tmpl,
        recipients=[Recipient(send_key=send_key, survey_id=send_key.replace("/", "."), email=email.strip(), name=name,
                              substitutions={})],
        folder=folder, sender_name=config.sender.name, sender_email=config.sender.email,
        categories=["nps-staff", category],
    )


def _send(wh: Warehouse, config: ProgramConfig, batches: list[Batch], transport, *, scope: str, kind: str, run_id: str):
    from nps.ledger import send_once

    return send_once(wh, batches, transport, scope=scope, kind=kind, run_id=run_id,
                     grace_minutes=config.dispatch.reconcile_grace_minutes)


def _returning(wh: Warehouse, name: str, params: dict[str, Any]) -> list[str]:
    with wh.begin() as conn:
        return wh.returning(conn, name, params)


@dataclass
class StaffResult:
    emails: int = 0
    cases: int = 0
    unrouted: int = 0            # cases whose account has no owner address (sent to the CS lead)
    unsent: int = 0              # cases with nobody to tell (no owner address, no CS lead)
    urgent: int = 0              # urgent cases (alerted first, in an email of their own per owner)
    confirmed: int = 0           # cases the ledger confirmed (alerted, escalated)
    by_level: dict[str, int] = field(default_factory=dict)
    ledger: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# -- owner alerts -------------------------------------------------------------------------------
def confirm_alerts(wh: Warehouse, now: datetime, run_id: str) -> int:
    ids = _returning(wh, "followups/mark_alerted", {"now": now})
    if ids:
        with wh.begin() as conn:
            append_history(wh, conn, [{"case_id": c, "happened_at": now, "event": "owner_alerted", "from_status": None,
                                       "to_status": None, "detail": "owner alert sent", "source": f"run {run_id}"}
                                      for c in ids])
    return len(ids)


@holding
def owner_alerts(wh: Warehouse, config: ProgramConfig, transport, *, now: datetime, run_id: str, folder: str,
                 dry_run: bool = False) -> StaffResult:
    """One email per owner with the owner's cases not alerted yet (see the module doc)."""
    f = config.followups
    result = StaffResult()
    confirm_alerts(wh, now, run_id)  # a run killed after its send: the ledger knows, the cases learn it now
    rows = enrich(wh, wh.query(wh.read_sql("followups/cases_detail"), {"which": "alert", "now": now, "levels": 0}))
    groups: dict[tuple[str, str, bool], list[dict[str, Any]]] = {}
    for c in rows:
        if _valid(c["owner_email"]):
            key = (c["owner_email"].strip().lower(), c["owner_name"] or "", False)
        elif f.cs_lead is not None:
            key = (f.cs_lead.email.lower(), f.cs_lead.name, True)
            result.unrouted += 1
        else:
            result.unsent += 1
            log.warning("case %s: account %s has no owner address and followups.cs_lead is not set: nobody is told",
                        c["case_id"], c["account_id"])
            continue
        groups.setdefault(key, []).append(c)
    urgent_batches, batches = [], []
    assignments: list[tuple[str, list[str]]] = []
    for (email, name, unrouted), cases in sorted(groups.items()):
        locale = f.staff_locale_for(email, f.cs_lead if unrouted else None, config.program.default_locale)
        # Urgent cases first, in an email of their own (one per owner per run); then the others.
        # Cases given a key by an earlier attempt keep it; the others share one new key.
        for urgent, prefix, group in ((True, "urgent", urgent_batches), (False, "alert", batches)):
            by_key: dict[str | None, list[dict[str, Any]]] = {}
            for c in cases:
                if is_urgent(c, config) == urgent:
                    by_key.setdefault(c["owner_alert_key"], []).append(c)
            for old_key, members in by_key.items():
                ids = sorted(c["case_id"] for c in members)
                key = old_key or f"{prefix}/{recipient_hash(email)}/{hashlib.sha256('|'.join(ids).encode()).hexdigest()[:12]}"
                if old_key is None:
                    assignments.append((key, ids))
                ctx = {"unrouted": unrouted, "urgent": urgent}
                if urgent:
                    ctx["threshold"] = _amount(f.urgent_arr_threshold, locale)
                group.append(_staff_batch(config, "owner_alert", ctx, cases=members, send_key=key, email=email, name=name,
                                          folder=folder, category="urgent-alert" if urgent else "owner-alert",
                                          locale=locale))
                result.cases += len(members)
                result.urgent += len(members) if urgent else 0
    result.emails = len(batches) + len(urgent_batches)
    if dry_run or not result.emails:
        return result
    pairs = [(cid, key) for key, ids in assignments for cid in ids]
    with wh.begin() as conn:
        for i in range(0, len(pairs), LIST_CHUNK):
            chunk = pairs[i:i + LIST_CHUNK]
            wh.run_file(conn, "followups/assign_alert_key", {"cases": [c for c, _ in chunk], "keys": [k for _, k in chunk]})
    try:
        # Urgent ones first, under their own ledger scope and kind; the ledger figures add up.
        for group, scope, kind in ((urgent_batches, "urgent_alerts", "urgent_alert"), (batches, "alerts", "alert")):
            if group:
                result.ledger = _merge_ledger(result.ledger, _send(wh, config, group, transport, scope=scope, kind=kind,
                                                                   run_id=run_id).as_dict())
    finally:
        result.confirmed = confirm_alerts(wh, now, run_id)
    log.info("owner alerts: %d emails for %d cases (%d urgent, %d routed to the CS lead, %d with nobody to tell); "
             "%d confirmed", result.emails, result.cases, result.urgent, result.unrouted, result.unsent, result.confirmed)
    return result


def _merge_ledger(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        if k in out and isinstance(v, int) and not isinstance(v, bool):
            out[k] += v
        elif k in out and isinstance(v, list):
            out[k] = out[k] + v
        elif k in out and isinstance(v, dict):
            out[k] = {x: out[k].get(x, 0) + v.get(x, 0) for x in {*out[k], *v}}
        elif k in out and isinstance(v, str) and v != out[k]:
            out[k] = f"{out[k]}+{v}"
        else:
            out[k] = v
    return out


def is_urgent(c: dict[str, Any], config: ProgramConfig) -> bool:
    """An NPS detractor on an account whose ARR reaches ``followups.urgent_arr_threshold``."""
    threshold = config.followups.urgent_arr_threshold
    return (threshold is not None and c["survey_type"] == "nps" and c["category"] == "detractor"
            and c.get("arr") is not None and float(c["arr"]) >= threshold)


# -- escalation -----------------------------------------------------------------------------------
def confirm_escalations(wh: Warehouse, config: ProgramConfig, now: datetime, run_id: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for level in range(1, len(config.followups.escalation) + 1):
        ids = _returning(wh, "followups/mark_escalated", {"level": level, "now": now})
        if ids:
            out[str(level)] = len(ids)
            to = config.followups.escalation[level - 1]
            with wh.begin() as conn:
                append_history(wh, conn, [{"case_id": c, "happened_at": now, "event": "escalated", "from_status": "open",
                                           "to_status": "open", "detail": f"level {level} ({to.name or to.email})",
                                           "source": f"run {run_id}"} for c in ids])
    return out


@holding
def escalate(wh: Warehouse, config: ProgramConfig, transport, *, now: datetime, run_id: str, folder: str,
             dry_run: bool = False) -> StaffResult:
    """Every open case past due climbs one level when the SLA clock says so (see the module doc)."""
    f = config.followups
    levels = f.escalation
    result = StaffResult()
    if not levels:
        return result
    confirm_escalations(wh, config, now, run_id)
    rows = enrich(wh, wh.query(wh.read_sql("followups/cases_detail"), {"which": "overdue", "now": now, "levels": len(levels)}))
    batches = []
    for c in rows:
        level = int(c["escalation_level"]) + 1
        to = levels[level - 1]
        threshold = add_hours(c["due_at"], to.after_hours, f.timezone, f.sla.skip_weekends)
        if now < threshold:
            continue
        batches.append(_staff_batch(config, "escalation", {"level": level, "levels": len(levels)}, cases=[c],
                                    send_key=f"escalation/{c['case_id']}/{level}", email=to.email, name=to.name,
                                    folder=folder, category="escalation", locale=f.staff_locale_for(to.email, to, config.program.default_locale)))
        result.by_level[str(level)] = result.by_level.get(str(level), 0) + 1
    result.emails = result.cases = len(batches)
    if dry_run or not batches:
        return result
    try:
        lr = _send(wh, config, batches, transport, scope="escalations", kind="escalation", run_id=run_id)
        result.ledger = lr.as_dict()
    finally:
        result.confirmed = sum(confirm_escalations(wh, config, now, run_id).values())
    log.info("escalations: %d cases climbed a level (%s); %d confirmed", result.cases, result.by_level, result.confirmed)
    return result


# -- digest -----------------------------------------------------------------------------------------
@holding
def digest(wh: Warehouse, config: ProgramConfig, transport, *, now: datetime, run_id: str, folder: str,
           dry_run: bool = False) -> StaffResult:
    """The daily digest to ``followups.digest``, once per local day after ``digest_hour``; with
    ``followups.owner_digest`` also one to each account owner with open cases (their open and
    overdue cases, ``owner-digest/<day>/<owner hash>``), in the owner's language."""
    from datetime import UTC

    f = config.followups
    result = StaffResult()
    local = now.replace(tzinfo=UTC).astimezone(ZoneInfo(f.timezone))
    if not (f.digest or f.owner_digest) or local.hour < f.digest_hour:
        return result
    day = local.strftime("%Y-%m-%d")
    batches = []
    if f.digest:
        counts = wh.query(wh.read_sql("followups/digest_counts"), {"now": now, "since": now - timedelta(hours=24)})[0]
        overdue = enrich(wh, wh.query(wh.read_sql("followups/cases_detail"), {"which": "digest", "now": now, "levels": 0}))
        ctx = {"day": day, "counts": {k: int(v or 0) for k, v in counts.items()}}
        batches += [_staff_batch(config, "digest", ctx, cases=overdue, send_key=f"digest/{day}/{recipient_hash(r.email)}",
                                 email=r.email, name=r.name, folder=folder, category="digest",
                                 locale=f.staff_locale_for(r.email, r, config.program.default_locale)) for r in f.digest]
        result.cases = len(overdue)
    if f.owner_digest:
        mine: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for c in wh.query(wh.read_sql("followups/cases_detail"), {"which": "owner_digest", "now": now, "levels": 0}):
            if _valid(c["owner_email"]):  # cases without an owner address are in the CS lead's digest
                mine.setdefault((c["owner_email"].strip().lower(), c["owner_name"] or ""), []).append(c)
        for (email, name), cases in sorted(mine.items()):
            cases = enrich(wh, cases)
            counts = {"open": sum(c["status"] == "open" for c in cases),
                      "in_progress": sum(c["status"] == "in_progress" for c in cases),
                      "overdue": sum(c["due_at"] <= now for c in cases)}
            batches.append(_staff_batch(config, "owner_digest", {"day": day, "counts": counts}, cases=cases,
                                        send_key=f"owner-digest/{day}/{recipient_hash(email)}", email=email, name=name,
                                        folder=folder, category="owner-digest",
                                        locale=f.staff_locale_for(email, None, config.program.default_locale)))
            result.cases += len(cases)
    result.emails = len(batches)
    if dry_run or not batches:
        return result
    lr = _send(wh, config, batches, transport, scope="digest", kind="digest", run_id=run_id)
    result.ledger = lr.as_dict()
    result.confirmed = lr.sent
    return result


# -- case files ---------------------------------------------------------------------------------------
@dataclass
class CaseFileResult:
    files: list[dict[str, Any]] = field(default_factory=list)
    rows_read: int = 0
    rows_applied: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _parse_at(text: str | None, default: datetime) -> datetime:
    if not text or not text.strip():
        return default
    from datetime import UTC

    dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo else dt


@holding
def ingest_case_files(wh: Warehouse, landing, *, now: datetime, run_id: str) -> CaseFileResult:
    """Apply every ``cases/*.csv`` waiting in the landing area (see the module doc)."""
    import pandas as pd

    from nps.ingest.audit import FileResult, known_file, load_quarantine, write_file_row
    from nps.ingest.landing import LandedFile

    out = CaseFileResult()
    folder = landing.root / "cases"
    if not folder.exists():
        return out
    files = sorted((p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(".csv")
                    and not p.name.startswith(".")), key=lambda p: p.name)
    for p in files:
        lf = LandedFile("cases", p.name, f"cases/{p.name}", p, p.stat().st_size)
        landing.checksum(lf)
        fr = FileResult(path=lf.relpath, kind="cases", file_id=lf.file_id, checksum=lf.checksum,
                        size_bytes=lf.size, file_format="csv", started_at=now)
        if known_file(wh, lf.file_id):
            fr.status = "skipped"
            landing.move(lf, landing.destination(lf, "archive"))
            out.files.append(fr.as_dict())
            continue
        text = p.read_bytes().decode("utf-8-sig", errors="replace")
        reader = csv.DictReader(io.StringIO(text))
        header = [h.strip() for h in (reader.fieldnames or [])]
        lines = text.splitlines()
        quarantine: list[dict[str, Any]] = []
        history: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        if "case_id" not in header or "status" not in header:
            fr.status, fr.reason = "rejected", f"{lf.relpath}: the header must name case_id and status (got {header})"
            fr.archived_to = landing.destination(lf, "rejected")
            fr.finished_at = now
            with wh.begin() as conn:
                write_file_row(wh, conn, fr)
            landing.move(lf, fr.archived_to, fr.reason)
            out.files.append(fr.as_dict())
            log.error("%s", fr.reason)
            continue
        ids = set()
        rows = []
        for n, raw in enumerate(reader, start=2):  # line 1 is the header
            row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
            rows.append((n, row))
            ids.add(row.get("case_id", ""))
        current = {r["case_id"]: r["status"] for r in wh.query(
            "SELECT case_id, status FROM ops.followup_cases")} if ids else {}
        for n, row in rows:
            fr.rows_read += 1
            cid, status, note = row.get("case_id", ""), row.get("status", "").lower(), row.get("note") or None
            where = f"{lf.relpath} row {n}"
            rule = reason = None
            try:
                at = _parse_at(row.get("updated_at"), now)
            except ValueError:
                rule, reason = "bad_timestamp", f"{where}: updated_at {row.get('updated_at')!r} is not an ISO 8601 time"
                at = now
            if rule is None and not cid:
                rule, reason = "missing_field", f"{where}: case_id is empty"
            elif rule is None and status not in _ORDER:
                rule, reason = "bad_status", f"{where}: status {row.get('status')!r} is not one of {list(CASE_STATUSES)}"
            elif rule is None and cid not in current:
                rule, reason = "unknown_case", f"{where}: case {cid!r} does not exist in ops.followup_cases"
            elif rule is None and _ORDER[status] < _ORDER[current[cid]]:
                rule, reason = "backward_transition", (f"{where}: case {cid} is {current[cid]}; {current[cid]} -> {status} "
                                                       "goes backward (open -> in_progress -> resolved)")
            if rule:
                fr.rows_quarantined += 1
                fr.rules[rule] = fr.rules.get(rule, 0) + 1
                quarantine.append({"file_id": lf.file_id, "line_number": n, "path": lf.relpath, "kind": "cases",
                                   "category": "validation", "rule": rule, "reason": reason, "survey_id": None,
                                   "original_line": lines[n - 1] if n - 1 < len(lines) else "", "quarantined_at": now})
                continue
            if status == current[cid]:
                fr.rows_duplicate += 1
                continue
            updates.append({"case_id": cid, "status": status, "at": at, "note": note, "now": now})
            history.append({"case_id": cid, "happened_at": at, "event": "status", "from_status": current[cid],
                            "to_status": status, "detail": (note or "")[:500] + (f" (by {row['updated_by']})" if row.get("updated_by") else ""),
                            "source": where})
            current[cid] = status
            fr.rows_loaded += 1
        fr.archived_to = landing.destination(lf, "archive")
        fr.finished_at = now
        with wh.begin() as conn:
            for u in updates:
                wh.run_file(conn, "followups/case_status", u)
            if history:
                append_history(wh, conn, history)
            if quarantine:
                load_quarantine(wh, conn, pd.DataFrame(quarantine))
            write_file_row(wh, conn, fr)
        landing.move(lf, fr.archived_to)
        for q in quarantine:
            log.warning("quarantined %s", q["reason"])
        out.files.append(fr.as_dict())
        out.rows_read += fr.rows_read
        out.rows_applied += fr.rows_loaded
        out.rows_quarantined += fr.rows_quarantined
        out.rows_duplicate += fr.rows_duplicate
    if files:
        log.info("case files: %d files, %d rows read = %d applied + %d quarantined + %d duplicates", len(files),
                 out.rows_read, out.rows_applied, out.rows_quarantined, out.rows_duplicate)
    return out


__all__ = ["CASE_STATUSES", "CaseFileResult", "StaffResult", "churn_risk", "confirm_alerts", "confirm_escalations",
           "digest", "enrich", "escalate", "ingest_case_files", "is_urgent", "owner_alerts", "render_staff"]
