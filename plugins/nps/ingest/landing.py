"""The landing area: where response files and event batches arrive, are archived or set aside.

Layout under the landing URI (``NPS_LANDING_URI``; default ``<project>/data/landing``)::

    responses/*.csv | *.jsonl     survey responses
    events/*.json                 SendGrid Event Webhook batches
    archive/<kind>/<id>_<name>    processed files (id = first 12 characters of the file_id)
    rejected/<kind>/<id>_<name>   files that could not be parsed, with <name>.reason.txt beside

A local path (or ``file://``) uses ``pathlib``; any other URI (``s3://``, ``gs://``, ...) goes
through Airflow's ``ObjectStoragePath`` with the connection in ``NPS_LANDING_CONN_ID``.
Each file version is identified by its landing-relative path plus its sha256, so a corrected file
dropped again under the same name is a new version.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from nps import DATA_DIR

DEFAULT_LANDING = DATA_DIR / "landing"
KINDS = {"responses": (".csv", ".jsonl", ".ndjson"), "events": (".json",)}


def landing_uri() -> str:
    return os.environ.get("NPS_LANDING_URI") or str(DEFAULT_LANDING)


def _root(uri: str) -> Any:
    if "://" not in uri:
        return Path(uri)
    if uri.startswith("file://"):
        return Path(uri.removeprefix("file://"))
    from airflow.sdk import ObjectStoragePath  # only for remote object stores

    return ObjectStoragePath(uri, conn_id=os.environ.get("NPS_LANDING_CONN_ID") or None)


def file_id_for(relpath: str, checksum: str) -> str:
    return hashlib.sha256(f"{relpath}\n{checksum}".encode()).hexdigest()[:32]


@dataclass
class LandedFile:
    kind: str
    name: str
    relpath: str  # e.g. responses/2026-11-03.csv
    path: Any  # pathlib.Path or ObjectStoragePath
    size: int
    checksum: str = ""

    @property
    def file_id(self) -> str:
        return file_id_for(self.relpath, self.checksum)

    @property
    def file_format(self) -> str:
        return self.name.rsplit(".", 1)[-1].lower().replace("ndjson", "jsonl")

    def open(self) -> BinaryIO:
        return self.path.open("rb")


class Landing:
    """A landing area rooted at a local folder or an object-storage URI."""

    def __init__(self, uri: str | None = None) -> None:
        self.uri = uri or landing_uri()
        self.root = _root(self.uri)

    def __repr__(self) -> str:
        return f"Landing({self.uri})"

    def ensure(self) -> None:
        for kind in KINDS:
            (self.root / kind).mkdir(parents=True, exist_ok=True)

    def pending(self, kind: str) -> list[LandedFile]:
        """Files waiting in ``<kind>/``, oldest name first (names carry the date)."""
        folder = self.root / kind
        if not folder.exists():
            return []
        out = []
        for p in folder.iterdir():
            if p.is_file() and p.name.lower().endswith(KINDS[kind]) and not p.name.startswith("."):
                out.append(LandedFile(kind, p.name, f"{kind}/{p.name}", p, p.stat().st_size))
        return sorted(out, key=lambda f: f.name)

    def has_pending(self) -> bool:
        return any(self.pending(kind) for kind in KINDS)

    @staticmethod
    def checksum(f: LandedFile) -> str:
        h = hashlib.sha256()
        with f.open() as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        f.checksum = h.hexdigest()
        return f.checksum

    def destination(self, f: LandedFile, where: str) -> str:
        """Landing-relative path a file goes to: ``archive/...`` or ``rejected/...``."""
        return f"{where}/{f.kind}/{f.file_id[:12]}_{f.name}"

    def move(self, f: LandedFile, relpath: str, reason: str | None = None) -> None:
        target = self.root / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        if reason is not None:
            (self.root / f"{relpath}.reason.txt").write_text(reason + "\n", encoding="utf-8")
        try:
            f.path.rename(target)
        except (OSError, NotImplementedError):  # across devices or stores without rename
            with f.open() as src, target.open("wb") as dst:
                for block in iter(lambda: src.read(1 << 20), b""):
                    dst.write(block)
            f.path.unlink()
