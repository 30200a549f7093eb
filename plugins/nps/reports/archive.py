"""The report archive: every report's HTML, PNGs and scorecard CSV under ``NPS_REPORTS_URI``,
with a static ``index.html`` that lists them by period (opens in any browser, no server).

``NPS_REPORTS_URI`` is a local folder (default ``data/reports``) or an object-storage URI
(``s3://bucket/reports``, ``gs://...``) reached through Airflow's ``ObjectStoragePath`` with the
connection named in ``NPS_REPORTS_CONN_ID``. Both sit behind :class:`ReportStore`, which only
needs ``/``, ``write_bytes``, ``read_bytes`` and ``rglob``. Layout::

    <root>/<kind>/<period>/<audience>/<locale>/report.html, *.png, scorecard.csv, report.txt, meta.json
    <root>/quarterly/<period>/owners/<owner>/report.html, meta.json
    <root>/index.html

Writing a report again (a rerun or a backfill) replaces its files: the archive holds one copy of
each report, the latest rendering.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any

from nps import DATA_DIR

log = logging.getLogger(__name__)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ArchiveError(RuntimeError):
    """The archive location is missing or cannot be written."""


def reports_uri() -> str:
    return os.environ.get("NPS_REPORTS_URI") or str(DATA_DIR / "reports")


def slug(value: str) -> str:
    return _UNSAFE.sub("_", value).strip("_").lower() or "_"


class ReportStore:
    """A local folder or an ObjectStoragePath; ``url`` says where a file is for people."""

    def __init__(self, uri: str | None = None, *, conn_id: str | None = None) -> None:
        self.uri = uri or reports_uri()
        if "://" in self.uri and not self.uri.startswith("file://"):
            from airflow.sdk import ObjectStoragePath  # only for object storage: it imports the Task SDK

            self.root: Any = ObjectStoragePath(self.uri, conn_id=conn_id or os.environ.get("NPS_REPORTS_CONN_ID") or None)
        else:
            self.root = Path(self.uri.removeprefix("file://")).expanduser().resolve()

    @property
    def is_local(self) -> bool:
        return isinstance(self.root, Path)

    def __repr__(self) -> str:
        return f"ReportStore({self.uri!r})"

    def path(self, rel: str):
        return self.root / rel

    def url(self, rel: str = "") -> str:
        p = self.path(rel) if rel else self.root
        return str(p)

    def write(self, rel: str, data: bytes) -> None:
        p = self.path(rel)
        try:
            if self.is_local:
                p.parent.mkdir(parents=True, exist_ok=True)
                tmp = p.with_name(p.name + ".tmp")
                tmp.write_bytes(data)
                os.replace(tmp, p)  # readers of the index never see half a file
            else:
                p.write_bytes(data)
        except OSError as err:
            raise ArchiveError(f"cannot write {p}: {err.strerror or err}") from None
        except Exception as err:  # noqa: BLE001 - object stores raise their own errors
            raise ArchiveError(f"cannot write {p}: {err}") from None

    def read(self, rel: str) -> bytes | None:
        p = self.path(rel)
        try:
            return p.read_bytes()
        except FileNotFoundError:
            return None

    def metas(self) -> list[dict[str, Any]]:
        """Every archived report's meta.json."""
        out = []
        try:
            found = sorted(self.root.rglob("meta.json"), key=str)
        except (FileNotFoundError, NotADirectoryError):
            return []
        for p in found:
            try:
                out.append(json.loads(p.read_bytes()))
            except (OSError, ValueError) as err:
                log.warning("skipping unreadable archive entry %s: %s", p, err)
        return out


def report_dir(kind: str, period_key: str, audience: str, locale: str) -> str:
    return f"{kind}/{period_key}/{slug(audience)}/{locale}"


def archive_report(store: ReportStore, rr, meta: dict[str, Any]) -> str:
    """Write one rendered report (nps.reports.render.RenderedReport); returns its folder."""
    rel = report_dir(rr.kind, rr.period_key, rr.audience, rr.locale)
    for c in rr.images:
        store.write(f"{rel}/{c.filename}", c.png)
    store.write(f"{rel}/report.html", rr.html_archive.encode("utf-8"))
    store.write(f"{rel}/report.txt", rr.text.encode("utf-8"))
    store.write(f"{rel}/scorecard.csv", rr.csv)
    store.write(f"{rel}/meta.json", json.dumps({**meta, "path": f"{rel}/report.html"}, sort_keys=True, default=str).encode("utf-8"))
    return rel


def archive_page(store: ReportStore, rel: str, html: str, meta: dict[str, Any]) -> str:
    """Write a single-page report (a QBR owner page); returns its folder."""
    store.write(f"{rel}/report.html", html.encode("utf-8"))
    store.write(f"{rel}/meta.json", json.dumps({**meta, "path": f"{rel}/report.html"}, sort_keys=True, default=str).encode("utf-8"))
    return rel


def write_index(store: ReportStore) -> str:
    """Regenerate ``index.html`` from every meta.json in the archive; returns its location."""
    from nps.reports.render import template

    metas = store.metas()
    kinds = []
    for kind in ("weekly", "monthly", "quarterly"):
        periods: dict[str, list[dict[str, Any]]] = {}
        for m in metas:
            if m.get("kind") == kind:
                periods.setdefault(m["period_key"], []).append(m)
        rows = [{"period_key": k, "period_label": v[0].get("period_label", k),
                 "reports": sorted(v, key=lambda m: (m.get("audience") != "all", m.get("page") == "owner", m.get("audience", ""), m.get("locale", "")))}
                for k, v in sorted(periods.items(), reverse=True)]
        kinds.append({"kind": kind, "periods": rows})
    html = template("index.html.j2").render(kinds=kinds, total=len(metas))
    store.write("index.html", html.encode("utf-8"))
    return store.url("index.html")
