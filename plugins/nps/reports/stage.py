"""The report stage as plain functions: what the DAG tasks (and later an operator), the demo and
the benchmark call. Nothing here imports Airflow.

- :func:`render_and_archive`: for a kind and period, render every audience's report in every
  recipient locale (company-wide report always, in the default locale too, so the archive has
  it), archive HTML, PNGs, CSV and the email parts, regenerate ``index.html``; QBR owner pages
  for the quarterly kind. An archive that cannot be written does not stop the reports: the gap
  is stated in the email instead.
- :func:`send_planned`: rebuild the messages from the archive (so what was approved is what is
  sent), re-rendering only what the archive lacks, and hand them to ``send.send_reports``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from html import escape
from typing import Any

from nps.config import ProgramConfig, ReportRecipient
from nps.reports.archive import ArchiveError, ReportStore, archive_page, archive_report, report_dir, slug, write_index
from nps.reports.charts import Chart, report_charts
from nps.reports.data import COMPANY, Audience, report_data
from nps.reports.i18n import fmt_num, t
from nps.reports.periods import Period
from nps.reports.render import RenderedReport, render_report
from nps.reports.send import Planned, SendResult, plan_messages, send_reports
from nps.warehouse import Warehouse

log = logging.getLogger(__name__)


@dataclass
class Job:
    audience: Audience
    recipients: list[tuple[str, ReportRecipient]]
    locales: list[str]


@dataclass
class Produced:
    period: Period
    rendered: list[RenderedReport] = field(default_factory=list)
    owner_pages: list[Any] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)
    archive_error: str | None = None
    index_url: str | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "kind": self.period.kind, "period": self.period.key, "period_start": self.period.start.isoformat(),
            "reports": len(self.rendered), "owner_pages": len(self.owner_pages), "archived": len(self.archived),
            "archive_error": self.archive_error, "index": self.index_url,
            "gaps": sorted({g for r in self.rendered for g in r.gaps}),
        }


def jobs(config: ProgramConfig, kind: str, *, only: str | None = None) -> list[Job]:
    """Every audience of ``kind`` with its recipients and the locales to render."""
    default = config.program.default_locale
    out = []
    company = config.reports.recipients_for(kind)
    out.append(Job(COMPANY, company, sorted({default} | {r.locale or default for _, r in company})))
    for j, v in enumerate(config.reports.segments):
        if kind not in v.reports:
            continue
        recips = [(f"reports.segments[{j}].recipients[{i}]", r) for i, r in enumerate(v.recipients)]
        out.append(Job(Audience.of(v), recips, sorted({r.locale or default for _, r in recips} or {default})))
    if only == "owners":
        if kind != "quarterly":
            raise ValueError("only='owners': owner pages belong to the quarterly QBR pack")
        return []
    if only:
        out = [jb for jb in out if jb.audience.name == only]
        if not out:
            raise ValueError(f"only={only!r}: no audience of that name for {kind} reports (use 'all' or a reports.segments name)")
    return out


def _meta(rr: RenderedReport, d, loc: str) -> dict[str, Any]:
    n = d.kpi("nps")
    nps_text = f"NPS {fmt_num(n.current, 1, 'en')} ±{fmt_num(n.moe, 1, 'en')} (n={n.n})" if n.status == "ok" else (
        f"not enough answers (n={n.n})" if n.status == "not_enough" else "no answers")
    aud = "company" if d.audience.is_company else d.audience.value
    return {"kind": rr.kind, "period_key": rr.period_key, "period_label": d.period.label("en"), "audience": rr.audience,
            "locale": loc, "subject": rr.subject, "title_short": f"{aud} · {loc}", "nps_text": nps_text,
            "as_of": d.as_of, "gaps": rr.gaps, "charts": [{"name": c.name, "file": c.filename} for c in rr.images],
            "csv": f"{report_dir(rr.kind, rr.period_key, rr.audience, loc)}/scorecard.csv"}


#: Below this many reports everything renders in this process; above, charts and HTML render in
#: worker processes (``NPS_REPORTS_WORKERS``, default: the CPU count, at most 4) while this one
#: keeps reading the marts.
PARALLEL_MIN = 6
_SHARED: dict[str, Chart] = {}


def _render_one(d, loc: str, sender_name: str) -> tuple[RenderedReport, dict[str, Any]]:
    """Charts and every format of one report (runs in a worker process for large runs)."""
    if _SHARED and next(iter(_SHARED)).split(":", 1)[0] != d.period.key:
        _SHARED.clear()
    charts = report_charts(d, loc, shared=_SHARED, period_key=d.period.key)
    rr = render_report(d, loc, charts, sender_name=sender_name)
    return rr, _meta(rr, d, loc)


def _workers(n: int) -> int:
    import os

    env = os.environ.get("NPS_REPORTS_WORKERS")
    want = int(env) if env else min(4, os.cpu_count() or 1)
    return 1 if n < PARALLEL_MIN else max(1, min(want, n))


def render_all(wh: Warehouse, config: ProgramConfig, period: Period, *, only: str | None = None,
               locales_for: dict[str, list[str]] | None = None) -> tuple[list[tuple[RenderedReport, dict[str, Any]]], list[Job]]:
    """Render every report of the period: [(rendered, meta)] in job order, and the jobs."""
    todo = jobs(config, period.kind, only=only)
    # locales_for: render only these (audience -> locales), e.g. what the archive lacks.
    items = [(jb, loc) for jb in todo
             for loc in (jb.locales if locales_for is None else locales_for.get(jb.audience.name, []))]
    sender = config.sender.name
    # Variants with the same filter and locale (e.g. one per team) read and render once and share it.
    def key(jb: Job, loc: str) -> tuple[str, str, str]:
        return jb.audience.dimension, jb.audience.value, loc

    unique: dict[tuple[str, str, str], Job] = {}
    for jb, loc in items:
        unique.setdefault(key(jb, loc), jb)
    workers = _workers(len(unique))
    data: dict[tuple[str, str], Any] = {}

    def data_of(jb: Job):
        k = (jb.audience.dimension, jb.audience.value)
        if k not in data:
            data[k] = report_data(wh, config, period, jb.audience)
        return data[k]

    done: dict[tuple[str, str, str], tuple[RenderedReport, dict[str, Any]]] = {}
    if workers == 1:
        _SHARED.clear()
        for k, jb in unique.items():
            done[k] = _render_one(data_of(jb), k[2], sender)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn, not fork: this process holds warehouse connections and threads a fork would copy.
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {k: pool.submit(_render_one, data_of(jb), k[2], sender) for k, jb in unique.items()}
            done = {k: f.result() for k, f in futures.items()}
        log.info("rendered %d distinct reports in %d worker processes", len(done), workers)
    out = []
    for jb, loc in items:
        rr, meta = done[key(jb, loc)]
        if rr.audience != jb.audience.name:
            rr = dataclasses.replace(rr, audience=jb.audience.name)
            meta = {**meta, "audience": jb.audience.name,
                    "csv": f"{report_dir(rr.kind, rr.period_key, jb.audience.name, loc)}/scorecard.csv"}
        out.append((rr, meta))
    return out, todo


def render_and_archive(wh: Warehouse, config: ProgramConfig, period: Period, *, store: ReportStore | None = None,
                       store_uri: str | None = None, only: str | None = None) -> Produced:
    """Render every report of ``period`` and archive it (HTML, PNGs, CSV, email parts, index)."""
    produced = Produced(period)
    rendered, _ = render_all(wh, config, period, only=only)
    produced.rendered = [rr for rr, _ in rendered]
    if period.kind == "quarterly" and config.reports.qbr.owner_pages and only in (None, "owners"):
        from nps.reports.qbr import owner_pages

        produced.owner_pages = owner_pages(wh, config, period)
    try:
        store = store or ReportStore(store_uri)
        for rr, meta in rendered:
            rel = archive_report(store, rr, meta)
            store.write(f"{rel}/email.html", rr.html_email.encode("utf-8"))
            produced.archived.append(rel)
        for page in produced.owner_pages:
            rel = f"{period.kind}/{period.key}/owners/{slug(page.owner)}"
            archive_page(store, rel, page.html, {
                "kind": period.kind, "period_key": period.key, "period_label": period.label("en"), "audience": f"owner:{page.owner}",
                "locale": page.locale, "subject": page.subject, "title_short": f"owner · {page.owner}", "page": "owner",
                "nps_text": "", "csv": None})
            store.write(f"{rel}/report.txt", page.text.encode("utf-8"))
            produced.archived.append(rel)
        produced.index_url = write_index(store)
    except ArchiveError as err:
        produced.archive_error = str(err)
        log.error("reports of %s %s not archived: %s", period.kind, period.key, err)
    except Exception as err:  # noqa: BLE001 - a store that cannot even be opened (unknown scheme, no connection)
        produced.archive_error = f"{type(err).__name__}: {err}"
        log.error("reports of %s %s not archived: %s", period.kind, period.key, produced.archive_error)
    log.info("rendered %d reports and %d owner pages for %s %s; archived %d; index %s", len(produced.rendered),
             len(produced.owner_pages), period.kind, period.key, len(produced.archived), produced.index_url)
    return produced


def _from_archive(store: ReportStore, kind: str, period_key: str, audience: str, loc: str) -> RenderedReport | None:
    rel = report_dir(kind, period_key, audience, loc)
    try:
        raw = store.read(f"{rel}/meta.json")
        if raw is None:
            return None
        meta = json.loads(raw)
        html, text, csv = store.read(f"{rel}/email.html"), store.read(f"{rel}/report.txt"), store.read(f"{rel}/scorecard.csv")
        charts = [Chart(c["name"], "", "", store.read(f"{rel}/{c['file']}")) for c in meta.get("charts", [])]
    except Exception as err:  # noqa: BLE001 - an unreadable archive means: render again
        log.warning("archive copy of %s unreadable (%s): rendering again", rel, err)
        return None
    if html is None or text is None or csv is None or any(c.png is None for c in charts):
        return None
    return RenderedReport(kind, period_key, audience, loc, meta["subject"], html.decode("utf-8"), "", text.decode("utf-8"),
                          csv, charts, meta.get("gaps", []))


def plan_all(wh: Warehouse, config: ProgramConfig, period: Period, *, store_uri: str | None = None, only: str | None = None,
             archive_error: str | None = None) -> tuple[Planned, dict[str, int]]:
    """Every message of the period: from the archive where it holds the report, else rendered now."""
    planned = Planned()
    counts = {"from_archive": 0, "rendered": 0}
    store: ReportStore | None = None
    if archive_error is None:
        try:
            store = ReportStore(store_uri)
        except Exception as err:  # noqa: BLE001
            archive_error = f"{type(err).__name__}: {err}"
    todo = jobs(config, period.kind, only=only)
    default = config.program.default_locale
    missing: dict[str, list[str]] = {}
    found: dict[tuple[str, str], RenderedReport] = {}
    for jb in todo:
        for loc in sorted({r.locale or default for _, r in jb.recipients}):
            rr = _from_archive(store, period.kind, period.key, jb.audience.name, loc) if store else None
            if rr is None:
                missing.setdefault(jb.audience.name, []).append(loc)
            else:
                found[(jb.audience.name, loc)] = rr
                counts["from_archive"] += 1
    if missing:
        for rr, _ in render_all(wh, config, period, locales_for=missing, only=None)[0]:
            if rr.locale in missing.get(rr.audience, []):
                found[(rr.audience, rr.locale)] = rr
                counts["rendered"] += 1
    for jb in todo:
        for loc in sorted({r.locale or default for _, r in jb.recipients}):
            rr = found[(jb.audience.name, loc)]
            mine = [(k, r) for k, r in jb.recipients if (r.locale or default) == loc]
            note_html = note_text = ""
            if archive_error:
                gap = t("gap_archive_failed", loc, reason=archive_error)
                note_html = f'<p style="font-family: Helvetica, Arial, sans-serif; font-size: 12px; color: #92400e; text-align: center;">{escape(gap)}</p>'
                note_text = f"\n\n{gap}\n"
            elif store is not None:
                url = store.url(f"{report_dir(period.kind, period.key, jb.audience.name, loc)}/report.html")
                note_text = f"\n\nArchived: {url}\n"
            p = plan_messages(rr, mine, note_html=note_html, note_text=note_text)
            planned.messages += p.messages
            planned.skipped += p.skipped
    if period.kind == "quarterly" and config.reports.qbr.owner_pages and only in (None, "owners"):
        _plan_owner_pages(wh, config, period, planned)
    return planned, counts


def _plan_owner_pages(wh: Warehouse, config: ProgramConfig, period: Period, planned: Planned) -> None:
    from nps.reports.qbr import owner_pages

    owners = config.reports.qbr.owners
    for page in owner_pages(wh, config, period):
        email = owners.get(page.owner)
        if not email:
            log.warning("QBR page of an owner with no address in reports.qbr.owners: archived, not sent")
            continue
        page_r = _PageAsReport(period.kind, period.key, f"owner-{slug(page.owner)}", page.locale, page.subject, page.html, page.text)
        p = plan_messages(page_r, [(f"reports.qbr.owners[{page.owner!r}]", ReportRecipient(email=email, name=page.owner))])
        planned.messages += p.messages
        planned.skipped += p.skipped


@dataclass
class _PageAsReport:
    kind: str
    period_key: str
    audience: str
    locale: str
    subject: str
    html_email: str
    text: str


def send_planned(wh: Warehouse, config: ProgramConfig, period: Period, transport, *, run_id: str, resend: bool = False,
                 store_uri: str | None = None, only: str | None = None,
                 archive_error: str | None = None) -> tuple[SendResult, Planned]:
    """Plan every message of the period and send it through the transport, exactly once per
    (report, period, recipient) through the ledger (:func:`nps.reports.send.deliver`)."""
    planned, counts = plan_all(wh, config, period, store_uri=store_uri, only=only, archive_error=archive_error)
    log.info("planned %d report emails for %s %s (%d reports from the archive, %d rendered again); %d recipients skipped",
             len(planned.messages), period.kind, period.key, counts["from_archive"], counts["rendered"], len(planned.skipped))
    result = send_reports(wh, planned.messages, transport, sender_name=config.sender.name, sender_email=config.sender.email,
                          folder=f"reports_{period.kind}_{period.key}", scope=f"report/{period.kind}/{period.key}",
                          run_id=run_id, resend=resend, grace_minutes=config.dispatch.reconcile_grace_minutes)
    return result, planned


class StageConfigError(ValueError):
    """What a rerun cannot fix: a bad Param, an unknown audience, no period to report."""


class MartsNotReadyError(RuntimeError):
    """The published marts were built before the period ended; a later retry may find them ready."""


def period_for_run(wh: Warehouse, kind: str, *, interval_end, period_start: str | None) -> tuple[Period, str]:
    """The period a run reports and why (logged by the task), checked against the marts' build.

    Raises StageConfigError when retrying cannot help (bad period_start, nothing complete yet
    on a manual run) and MartsNotReadyError when the marts do not cover the period yet.
    """
    from nps.reports.data import marts_as_of, resolve_period
    from nps.reports.periods import PeriodError

    try:
        period, why = resolve_period(wh, kind, interval_end=interval_end, period_start=period_start)
    except (PeriodError, ValueError) as err:
        raise StageConfigError(str(err)) from None
    as_of = marts_as_of(wh)
    if as_of is None or as_of.date() < period.end:
        raise MartsNotReadyError(
            f"the published marts (built as of {as_of:%Y-%m-%d %H:%M} UTC) do not cover {period.kind} {period.key} "
            f"(ends {period.end}) yet: run nps_build_marts, then clear this task" if as_of else
            "the published marts are empty: run nps_build_marts first"
        )
    return period, why
