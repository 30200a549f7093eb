"""Load response files: read in chunks, verify, validate, quarantine, deduplicate, append.

``ingest_responses`` processes every file waiting in ``responses/`` of the landing area. Per file
version (path + checksum):

1. A version already in ``ops.ingest_files`` is not read again; it is only moved out of the way.
2. Rows left by an interrupted earlier attempt are deleted, then each chunk commits on its own
   (so memory and transaction size stay bounded): valid rows go to ``ops.raw_responses``, exact
   duplicates of rows already there are skipped and counted, the rest go to ``ops.quarantine``.
   A chunk is checked (tokens, ledger, GX) while the chunk before it is written, by a writer
   thread on its own connection: one write at a time, in file order (``_write_behind``).
3. The audit row is written last, after ``rows read = loaded + quarantined + duplicates`` is
   checked; then the file moves to ``archive/``. A file that cannot be parsed is set aside in
   ``rejected/`` with its reason and the next file loads.

The four audit numbers come from four independent sources, so the balance can fail: rows read is
the readers' record count (before any checks), loaded and quarantined are counted in the
warehouse (rows of this ``file_id`` in ``ops.raw_responses`` / ``ops.quarantine``), duplicates
are the chunk's rows whose ``response_id`` was already stored, counted before each insert. A file
whose audit fails (rows were lost on the way) leaves no rows behind: its rows are deleted, it is
moved to ``rejected/`` with the reason, no audit row is written (so the same file can be dropped
again once the cause is fixed) and the result says ``rejected``. Any other error mid-file also
deletes the file's rows before it is raised; a retry starts the file again.

``raw_responses.response_id`` is a hash of survey_id, responded_at, score and comment, so the
same answer arriving twice (a rerun, an overlapping export, a fixed file) is stored once. A
survey answered twice (different time or score) keeps both rows; the latest responded_at counts.
(On PostgreSQL the chunk's new rows are copied in without ON CONFLICT: should another loader
store one of them in between, the key is violated, the file's rows are removed and the retry
counts it as a duplicate.)
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa

from nps import clock
from nps.config import ProgramConfig
from nps.ingest import DEFAULT_CHUNK_ROWS, AuditMismatchError, RejectedFileError, audit
from nps.ingest.landing import LandedFile, Landing
from nps.ingest.readers import read_chunks
from nps.ingest.validation import SECURITY, ResponseValidator, prepare, reasons
from nps.ingest.verify import ledger_lookup, verify_tokens
from nps.tokens import TokenSigner
from nps.warehouse import holding

log = logging.getLogger(__name__)
DUCKDB_MEMORY_LIMIT = re.sub(r"[^0-9A-Za-z]", "", os.environ.get("NPS_INGEST_DUCKDB_MEMORY", "256MB"))
RAW_COLUMNS = ["response_id", "survey_id", "survey_type", "score", "comment", "responded_at", "locale", "file_id",
               "source_line", "loaded_at"]


class _SeenKeys:
    """(survey_id, responded_at) keys already seen in this file, as sorted uint64 arrays per chunk."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray]] = []

    def check(self, keys: np.ndarray, lines: np.ndarray) -> np.ndarray:
        """Line of the earlier occurrence of each key, or 0; remembers the new ones."""
        first = np.zeros(len(keys), dtype=np.int64)
        for sk, sl in self.parts:
            ix = np.searchsorted(sk, keys).clip(0, max(len(sk) - 1, 0))
            hit = (sk[ix] == keys) & (first == 0) if len(sk) else np.zeros(len(keys), dtype=bool)
            first[hit] = sl[ix[hit]]
        s = pd.Series(lines, index=keys)
        within = pd.Series(keys).duplicated(keep="first").to_numpy() & (first == 0)
        if within.any():
            first_line = s.groupby(level=0).transform("first").to_numpy()
            first[within] = first_line[within]
        new = first == 0
        order = np.argsort(keys[new], kind="stable")
        self.parts.append((keys[new][order], lines[new][order]))
        return first


@dataclass
class _Checked:
    """One chunk after the checks: its size, its quarantine rows and its rows to load (or None)."""

    n: int
    quarantine: pd.DataFrame | None
    rows: pd.DataFrame | None


class _Ticker:
    """Seconds per phase of a chunk, for the debug log."""

    def __init__(self) -> None:
        self.t = time.perf_counter()
        self.spent: dict[str, float] = {}

    def __call__(self, phase: str) -> None:
        now = time.perf_counter()
        self.spent[phase] = self.spent.get(phase, 0.0) + now - self.t
        self.t = now

    def __str__(self) -> str:
        return ", ".join(f"{k} {v:.2f}s" for k, v in self.spent.items())


def response_ids(df: pd.DataFrame) -> list[str]:
    """sha256 of survey_id | responded_at (µs) | score | comment, 32 hex characters."""
    # numpy formats datetime64[us] as YYYY-MM-DDTHH:MM:SS.ffffff (= strftime "%Y-%m-%dT%H:%M:%S.%f"),
    # several times faster than pandas' strftime
    ts = np.datetime_as_string(df["responded_at"].to_numpy().astype("datetime64[us]"), unit="us").tolist()
    sha = hashlib.sha256
    # digest()[:16].hex() is hexdigest()[:32] without formatting the 32 bytes thrown away
    return [
        sha(f"{sid}|{t}|{s}|{'' if c is None else c}".encode("utf-8", "surrogatepass")).digest()[:16].hex()
        for sid, t, s, c in zip(df["survey_id"].tolist(), ts, df["score"].astype("int64").tolist(), df["comment"].tolist(),
                                strict=True)
    ]


#: response_ids in SQL: the same sha256 of the same text, computed by an in-memory DuckDB without
#: holding the GIL (the writer thread needs it meanwhile). strftime's %f is six digits, as numpy's.
_IDS_SQL = ("SELECT left(sha256(survey_id || '|' || strftime(responded_at, '%Y-%m-%dT%H:%M:%S.%f') || '|' "
            "|| CAST(score AS VARCHAR) || '|' || coalesce(comment, '')), 32) AS id FROM ingest_ids")


class _IdHasher:
    """``response_ids`` of a chunk, in bulk (one in-memory DuckDB per loader, one thread)."""

    def __init__(self) -> None:
        self._con = None

    def __call__(self, df: pd.DataFrame) -> list[str]:
        import pyarrow as pa

        stamps = df["responded_at"].to_numpy().astype("datetime64[us]")
        years = stamps.astype("datetime64[Y]").astype(np.int64) + 1970
        if not len(df) or np.isnat(stamps).any() or years.min() < 1000 or years.max() > 9999:
            return response_ids(df)  # four-digit years only: how both format the rest could differ
        # the text ``response_ids`` formats: a missing value that is not None (pandas' str dtype
        # holds NaN) reads "nan" there, so it does here too; the ids must never change
        text = [[v if v.__class__ is str else ("" if v is None else f"{v}") for v in df[c].tolist()]
                for c in ("survey_id", "comment")]
        try:
            table = pa.table({"survey_id": pa.array(text[0], pa.string()), "responded_at": pa.array(stamps),
                              "score": pa.array(df["score"].astype("int64").to_numpy()), "comment": pa.array(text[1], pa.string())})
        except (pa.ArrowException, TypeError, UnicodeError):  # e.g. a lone surrogate in a comment
            return response_ids(df)
        if self._con is None:
            import duckdb

            self._con = duckdb.connect(":memory:", config={"threads": 1, "memory_limit": "64MB"})
        self._con.register("ingest_ids", table)
        try:
            return self._con.execute(_IDS_SQL).fetchnumpy()["id"].tolist()
        finally:
            self._con.unregister("ingest_ids")

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


class ResponseLoader:
    """Ingests response files into one warehouse; one GX suite serves every file of a run."""

    def __init__(self, warehouse, landing: Landing, *, secret: str, config: ProgramConfig, now: datetime | None = None,
                 chunk_rows: int = DEFAULT_CHUNK_ROWS) -> None:  # noqa: ANN001
        self.wh = warehouse
        self.landing = landing
        self.signer = TokenSigner(secret)
        self.now = now or clock.utcnow()
        self.comment_max = config.program.comment_max_chars
        self.chunk_rows = chunk_rows
        self._validator: ResponseValidator | None = None
        self._ids = _IdHasher()

    @property
    def validator(self) -> ResponseValidator:
        if self._validator is None:
            self._validator = ResponseValidator(comment_max_chars=self.comment_max, now=self.now)
        return self._validator

    def ingest_all(self) -> list[audit.FileResult]:
        try:
            return [self.ingest_file(f) for f in self.landing.pending("responses")]
        finally:
            self._ids.close()

    def ingest_file(self, f: LandedFile) -> audit.FileResult:
        self.landing.checksum(f)
        r = audit.FileResult(path=f.relpath, kind="responses", file_id=f.file_id, checksum=f.checksum,
                             size_bytes=f.size, file_format=f.file_format)
        known = audit.known_file(self.wh, f.file_id)
        if known:
            r.status, r.archived_to = "skipped", known["archived_to"]
            log.info("%s (file_id %s) was ingested before (%s); moving it out of the landing area",
                     f.relpath, f.file_id, known["status"])
            self.landing.move(f, known["archived_to"] or self.landing.destination(f, "archive"))
            return r
        r.started_at = clock.utcnow()
        # Two connections: ``lookup`` reads the ledger for the chunk being checked while ``conn``
        # writes the chunk checked before it (see ``_write_behind``).
        with self.wh.engine.connect() as conn, self.wh.engine.connect() as lookup:
            if self.wh.is_duckdb:
                # DuckDB caches table blocks up to 80% of RAM by default, so a worker's memory would
                # grow with the warehouse; cap it (blocks spill to the file, results are the same).
                conn.exec_driver_sql(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
                conn.commit()
            with conn.begin():
                audit.reset_file(self.wh, conn, f.file_id, "responses")
            seen = _SeenKeys()
            try:
                with f.open() as fh:
                    self._write_behind(conn, lookup, f, read_chunks(fh, f.file_format, self.chunk_rows), seen, r)
                with conn.begin():
                    self._count_stored(conn, f, r)
                    audit.check_balance(r)
            except AuditMismatchError as err:
                return self._set_aside_after_failed_audit(conn, f, r, err)
            except RejectedFileError as err:
                r.status, r.reason = "rejected", str(err)
                r.rows_read = r.rows_loaded = r.rows_quarantined = r.rows_duplicate = r.rows_security = 0
                r.rules = {}
                r.archived_to = self.landing.destination(f, "rejected")
                r.finished_at = clock.utcnow()
                with conn.begin():
                    audit.reset_file(self.wh, conn, f.file_id, "responses")
                    audit.write_file_row(self.wh, conn, r)
                log.error("%s rejected whole: %s", f.relpath, err)
                self.landing.move(f, r.archived_to, reason=f"{f.relpath}: {err}")
                return r
            except BaseException:
                self._remove_rows(conn, f)  # nothing of a half-loaded file stays for the marts to read
                raise
            r.archived_to = self.landing.destination(f, "archive")
            r.finished_at = clock.utcnow()
            with conn.begin():
                audit.write_file_row(self.wh, conn, r)  # checks the balance first
        self.landing.move(f, r.archived_to)
        log.info("%s: read %d, loaded %d, quarantined %d (security %d), duplicates skipped %d",
                 f.relpath, r.rows_read, r.rows_loaded, r.rows_quarantined, r.rows_security, r.rows_duplicate)
        return r

    def _count_stored(self, conn, f: LandedFile, r: audit.FileResult) -> None:  # noqa: ANN001
        """Loaded and quarantined rows of the file, as the warehouse holds them."""
        row = conn.execute(sa.text(self.wh.read_sql("ingest/file_counts").strip().rstrip(";")), {"file_id": f.file_id}).one()
        r.rows_loaded, r.rows_quarantined = int(row.loaded), int(row.quarantined)

    def _remove_rows(self, conn, f: LandedFile) -> None:  # noqa: ANN001
        """Delete every row of the file version (after a failure; best effort, the next attempt does it too)."""
        try:
            if conn.in_transaction():
                conn.rollback()
            with conn.begin():
                audit.reset_file(self.wh, conn, f.file_id, "responses")
        except Exception:  # noqa: BLE001 - the original error matters more; a retry cleans up first
            log.exception("%s: could not remove the rows of the failed attempt; the next attempt removes them", f.relpath)

    def _set_aside_after_failed_audit(self, conn, f: LandedFile, r: audit.FileResult,  # noqa: ANN001
                                      err: AuditMismatchError) -> audit.FileResult:
        """Rows were lost: remove every row of the file and move it to rejected/ with the reason."""
        counts = (r.rows_read, r.rows_loaded, r.rows_quarantined, r.rows_duplicate)
        self._remove_rows(conn, f)
        r.status, r.reason = "rejected", f"audit failed: {err}"
        r.rows_loaded = r.rows_quarantined = r.rows_duplicate = r.rows_security = 0
        r.archived_to = self.landing.destination(f, "rejected")
        r.finished_at = clock.utcnow()
        log.error("%s: %s (read %d, stored %d + quarantined %d + duplicates %d)", f.relpath, r.reason, *counts)
        # No audit row: this version was not ingested, so after the fix the same file may be dropped again.
        self.landing.move(f, r.archived_to, reason=f"{f.relpath}: {r.reason}")
        return r

    def _write_behind(self, conn, lookup, f: LandedFile, chunks: Iterator[pd.DataFrame], seen: _SeenKeys,  # noqa: ANN001
                      r: audit.FileResult) -> None:
        """Check each chunk while the one before it is written: the warehouse's share of a chunk
        (the insert, its index, the commit; on PostgreSQL a server process) runs beside the checks
        of the next one, which are Python. One chunk is written at a time, in file order, each in its
        own transaction; a failed write stops the file at the next chunk and its error is raised."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="nps-ingest-write") as writer:
            pending: Future | None = None
            try:
                for chunk in chunks:
                    r.rows_read += len(chunk)  # the readers' record count, before any check
                    checked = self._check(lookup, f, chunk, seen, r)
                    if pending is not None:
                        r.rows_duplicate += pending.result()
                    pending = writer.submit(self._write, conn, f, checked)
                if pending is not None:
                    r.rows_duplicate += pending.result()
            except BaseException:
                if pending is not None:
                    pending.cancel()
                    wait([pending])  # the caller removes the file's rows: no write may still be running
                raise

    def _check(self, lookup, f: LandedFile, chunk: pd.DataFrame, seen: _SeenKeys,  # noqa: ANN001
               r: audit.FileResult) -> _Checked:
        """Verify, validate and sort one chunk into quarantine rows and rows to load (no writes)."""
        tick = _Ticker()
        chunk = chunk.reset_index(drop=True)
        tokens = verify_tokens(self.signer, chunk["token"])
        tick("tokens")
        with lookup.begin():
            ledger = ledger_lookup(self.wh, lookup, tokens["survey_id"])
        tick("ledger")
        df = prepare(chunk, tokens, ledger, self.now)
        tick("prepare")
        masks = self.validator.failures(df)
        tick("gx")
        bad = np.zeros(len(df), dtype=bool)
        for m in masks.values():
            bad |= m
        # Duplicates within the file: same survey and response time as an earlier good row.
        good = np.flatnonzero(~bad)
        dup_of = np.zeros(len(df), dtype=np.int64)
        if len(good):
            # 64-bit hashes of (survey_id, responded_at), vectorised; they live for one file only.
            sid = pd.util.hash_array(df["survey_id"].to_numpy(dtype=object)[good], categorize=False)
            stamp = pd.util.hash_array(df["responded_at"].to_numpy().astype("int64")[good])
            keys = (sid * np.uint64(0x9E3779B97F4A7C15) ^ stamp).view(np.int64)
            dup_of[good] = seen.check(keys, df["line"].to_numpy(dtype=np.int64)[good])
        masks["duplicate"] = dup_of > 0
        df["dup_of"] = dup_of
        why = reasons(df, masks, self.now, self.comment_max)
        tick("reasons")
        now = clock.utcnow()
        out = qf = None
        if len(why):
            q = df.iloc[why["pos"].to_numpy()]
            qf = pd.DataFrame({
                "file_id": f.file_id,
                "line_number": q["line"].to_numpy(dtype=np.int64),
                "path": f.relpath,
                "kind": "responses",
                "category": why["category"].to_numpy(),
                "rule": why["rule"].to_numpy(),
                "reason": why["reason"].to_numpy(),
                "survey_id": q["survey_id"].to_numpy(dtype=object),
                "original_line": q["original"].to_numpy(dtype=object),
                "quarantined_at": now,
            })
            qf["quarantined_at"] = qf["quarantined_at"].astype("datetime64[us]")
            r.rows_security += int((why["category"] == SECURITY).sum())
            for rule, n in why["rule"].value_counts().items():
                r.rules[str(rule)] = r.rules.get(str(rule), 0) + int(n)
        ok = np.ones(len(df), dtype=bool)
        ok[why["pos"].to_numpy(dtype=np.int64)] = False
        v = df.loc[ok, ["survey_id", "survey_type", "score", "comment", "responded_at", "locale", "line"]]
        if len(v):
            comment = v["comment"].where(v["comment"].notna(), None).astype(object)
            loc = v["locale"].astype(object)
            is_str = loc.map(type).eq(str).to_numpy()
            locale = pd.Series(None, index=v.index, dtype=object)
            if is_str.any():
                locale[is_str] = loc[is_str].astype(str).str.lower().str[:16].astype(object).to_numpy()
            out = pd.DataFrame({
                "survey_id": v["survey_id"].astype(object).to_numpy(),
                "survey_type": v["survey_type"].astype(object).to_numpy(),
                "score": v["score"].astype("int64").to_numpy(),
                "comment": comment.to_numpy(),
                "responded_at": v["responded_at"].to_numpy(),
                "locale": locale.to_numpy(),
                "file_id": f.file_id,
                "source_line": v["line"].to_numpy(dtype=np.int64),
                "loaded_at": now,
            })
            out["loaded_at"] = out["loaded_at"].astype("datetime64[us]")
            out.insert(0, "response_id", self._ids(out))
            tick("ids")
        log.debug("%s chunk of %d rows: %d to load, %d quarantined: %s", f.relpath, len(df), len(v), len(why), tick)
        return _Checked(len(df), qf, out)

    def _append(self, conn, rows: pd.DataFrame) -> tuple[int, int]:  # noqa: ANN001
        """Append a chunk's rows to ``ops.raw_responses``, skipping exact duplicates of rows already
        there; (duplicates, rows inserted). The duplicates are counted before the append."""
        if self.wh.is_duckdb:
            with self._staged(conn, rows):
                dupes = int(conn.execute(sa.text(self.wh.read_sql("ingest/count_stage_duplicates").strip().rstrip(";"))).scalar())
                return dupes, self.wh.run_file(conn, "ingest/insert_responses")
        # PostgreSQL: COPY straight into the table. Through a staging table the rows were written
        # twice and inserted row by row with ON CONFLICT, most of the chunk's time on the server.
        ids = rows["response_id"].tolist()
        existing = set(self.wh.returning(conn, "ingest/existing_responses", {"ids": ids}))
        fresh = rows[~rows["response_id"].isin(existing)] if existing else rows
        return len(existing), self.wh.load_df(conn, "ops.raw_responses", fresh, RAW_COLUMNS)

    @contextmanager
    def _staged(self, conn, rows: pd.DataFrame) -> Iterator[None]:  # noqa: ANN001
        """DuckDB: the chunk's rows to load as ``ingest_stage_responses`` for the block, read in
        place (no copy into a staging table). As an Arrow table, because DuckDB reads pandas'
        Python strings holding the GIL, which the next chunk's checks need meanwhile."""
        import pyarrow as pa

        raw = conn.connection.driver_connection
        raw.register("ingest_stage_responses", pa.Table.from_pandas(rows[RAW_COLUMNS], preserve_index=False))
        try:
            yield
        finally:
            raw.unregister("ingest_stage_responses")

    def _write(self, conn, f: LandedFile, checked: _Checked) -> int:  # noqa: ANN001
        """Store one checked chunk in one transaction; returns the exact duplicates skipped."""
        tick = _Ticker()
        dupes = loaded = 0
        with conn.begin():
            if checked.quarantine is not None:
                audit.load_quarantine(self.wh, conn, checked.quarantine)
                tick("quarantine")
            if checked.rows is not None:
                dupes, loaded = self._append(conn, checked.rows)
                tick("load")
        tick("commit")
        log.debug("%s chunk of %d rows written: %d inserted, %d duplicates: %s", f.relpath, checked.n, loaded, dupes, tick)
        # rows read, loaded and quarantined are counted elsewhere (reader, warehouse): see the module docstring
        return dupes


@holding
def ingest_responses(warehouse, landing: Landing, *, secret: str, config: ProgramConfig, now: datetime | None = None,
                     chunk_rows: int = DEFAULT_CHUNK_ROWS) -> list[audit.FileResult]:  # noqa: ANN001
    """Ingest every response file waiting in the landing area; one result per file."""
    loader = ResponseLoader(warehouse, landing, secret=secret, config=config, now=now, chunk_rows=chunk_rows)
    return loader.ingest_all()
