"""What BI tools read, and how publishing stays out of their way on both engines.

DuckDB locks its file per process: a BI tool (Superset, Metabase, DBeaver) holding even a
read-only connection to the warehouse file makes every pipeline task fail with ``Could not set
lock on file ... Conflicting lock is held``. So BI tools never open the warehouse file: after
each publish the published marts are copied into a **snapshot file** beside it
(``bi_marts.duckdb`` next to ``warehouse.duckdb``; not ``marts.duckdb``, whose catalog name
would clash with the schema ``marts``; ``NPS_BI_SNAPSHOT`` overrides the path), written
to a temporary file and moved over the old one with an atomic rename. A reader that holds the
old snapshot open keeps reading the old file (its inode) untouched; its next connection sees the
new marts. After an in-place incremental build, the snapshot's own copy of that build schema
(the file published for its previous build, ``private_copy``) gets only the recomputed rows and
is linked over the snapshot path the same way; when a reader still holds that copy open, or it
does not hold the build's base, every mart is copied into a new file instead. Optionally
(``NPS_BI_PARQUET_DIR``) each mart is also written as one Parquet file, replaced the same way.

PostgreSQL needs no copy: the ``marts.*`` views are what BI tools read. Repointing a view needs
an exclusive lock, which waits behind a long dashboard query, and while it waits every new
dashboard query queues behind it. Every DDL step of a build therefore runs with a short
``lock_timeout`` (``NPS_PG_LOCK_TIMEOUT``, default 2s) and is retried with growing pauses
(``retry_on_lock``): dashboards wait at most one lock timeout, and the run waits for the long
query instead of failing.

BI tools on the DuckDB snapshot connect with the SQLAlchemy URL ``duckdb+nps:///<path>``
(``DuckDBSnapshotDialect``): duckdb_engine 0.17 with SQLAlchemy 2.1 cannot reflect columns
(its PostgreSQL-catalog query names ``pg_collation``, which DuckDB lacks); this dialect is
duckdb_engine with that one query fixed, so table lists, columns and column comments reflect.
Nothing here imports Airflow.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa

from nps.warehouse import Warehouse, WarehouseError, duckdb_memory_limit

log = logging.getLogger(__name__)

T = TypeVar("T")

#: PostgreSQL lock_timeout for the build's DDL; NPS_PG_LOCK_TIMEOUT overrides (e.g. "500ms", "5s").
PG_LOCK_TIMEOUT = "2s"
#: Pauses between attempts when a lock was not granted (seconds, jittered); the last repeats until
#: NPS_PG_LOCK_WAIT_S (default 900 s) has passed, then the task fails (and Airflow retries it).
LOCK_RETRY_DELAYS: tuple[float, ...] = (0.5, 1, 2, 4, 8, 15, 30)
LOCK_MAX_WAIT_S = 900.0
#: The snapshot's own record of the build it holds (schema main, invisible under ``marts``).
SNAPSHOT_INFO = "main.nps_snapshot"
_SNAPSHOT_ALIAS = "nps_bi_snapshot"


class LockWaitExceeded(WarehouseError):
    """A lock was refused for longer than the run may wait; nothing was changed."""


# -- PostgreSQL: short lock waits, retried ---------------------------------------------------------
def lock_timeout() -> str:
    value = (os.environ.get("NPS_PG_LOCK_TIMEOUT") or PG_LOCK_TIMEOUT).strip()
    if not value.replace(" ", "").isalnum():
        raise ValueError(f"NPS_PG_LOCK_TIMEOUT={value!r} is not a duration such as 2s or 500ms")
    return value


def max_lock_wait() -> float:
    raw = os.environ.get("NPS_PG_LOCK_WAIT_S")
    try:
        return float(raw) if raw else LOCK_MAX_WAIT_S
    except ValueError:
        raise ValueError(f"NPS_PG_LOCK_WAIT_S={raw!r} is not a number of seconds") from None


def is_lock_refused(err: BaseException) -> bool:
    """True when ``err`` (or what it wraps) is PostgreSQL's lock_not_available (55P03)."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if getattr(err, "sqlstate", None) == "55P03" or getattr(err, "pgcode", None) == "55P03":
            return True
        err = getattr(err, "orig", None) or err.__cause__
    return False


def retry_on_lock(
    wh: Warehouse,
    work: Callable[[sa.Connection], T],
    what: str,
    *,
    delays: Sequence[float] = LOCK_RETRY_DELAYS,
    max_wait: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``work(conn)`` in one transaction; on PostgreSQL with a short lock_timeout, retried.

    A refused lock rolls the whole transaction back (nothing half-done), pauses and tries again,
    until ``max_wait`` seconds have passed; then raises ``LockWaitExceeded`` naming ``what``.
    """
    if wh.is_duckdb:
        with wh.begin() as conn:
            return work(conn)
    timeout = lock_timeout()
    budget = max_lock_wait() if max_wait is None else max_wait
    started = time.monotonic()
    attempt = 0
    while True:
        try:
            with wh.begin() as conn:
                wh.run_sql(conn, f"SET LOCAL lock_timeout = '{timeout}'")
                return work(conn)
        except Exception as err:  # noqa: BLE001 - only a refused lock is retried
            if not is_lock_refused(err):
                raise
            waited = time.monotonic() - started
            if waited >= budget:
                raise LockWaitExceeded(
                    f"{what}: PostgreSQL refused a lock for {waited:.0f} s ({attempt + 1} attempts, lock_timeout "
                    f"{timeout}): a long query holds marts tables (see pg_stat_activity); nothing was changed, "
                    "the task can be retried"
                ) from err
            pause = delays[min(attempt, len(delays) - 1)] * random.uniform(0.8, 1.2)
            pause = min(pause, max(0.0, budget - waited))
            log.warning("%s: lock not granted within %s (attempt %d); retrying in %.1f s", what, timeout, attempt + 1, pause)
            attempt += 1
            sleep(pause)


# -- DuckDB: the snapshot file BI tools read -------------------------------------------------------
def snapshot_path(wh: Warehouse) -> Path | None:
    """Where the BI snapshot of a DuckDB warehouse goes; None for PostgreSQL or an in-memory DuckDB."""
    if not wh.is_duckdb:
        return None
    configured = os.environ.get("NPS_BI_SNAPSHOT")
    if configured:
        return Path(configured)
    database = sa.make_url(wh.url).database
    if not database or database == ":memory:":
        return None
    return Path(database).with_name("bi_marts.duckdb")


def parquet_dir() -> Path | None:
    configured = os.environ.get("NPS_BI_PARQUET_DIR")
    return Path(configured) if configured else None


def _literal(text: str | None) -> str:
    return "NULL" if text is None else "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class SnapshotChanges:
    """How a published in-place incremental build changed its build schema (``nps.marts.snapshot_changes``).

    ``recomputed`` maps a mart to the predicate (on alias ``t``) of the rows the build recomputed;
    the snapshot's copy of that schema replaces exactly those rows, and copies every other mart whole.
    """

    schema: str
    base_built_at: datetime | None
    built_at: datetime | None
    recomputed: dict[str, str] = field(default_factory=dict)


def _published_build(conn) -> dict[str, Any]:
    row = conn.execute(
        sa.text(
            "SELECT b.build_schema, b.as_of, b.updated_at, s.built_at FROM ops.mart_builds AS b "
            "LEFT JOIN ops.mart_build_state AS s ON s.build_schema = b.build_schema WHERE b.status = 'published'"
        )
    ).mappings().first()
    return dict(row) if row else {"build_schema": None, "as_of": None, "updated_at": None, "built_at": None}


def _snapshot_build(conn, path: Path) -> dict[str, Any] | None:
    """The build recorded in a snapshot file, or None (missing, unreadable, older format)."""
    if not path.is_file():
        return None
    alias = f"{_SNAPSHOT_ALIAS}_current"
    try:
        conn.exec_driver_sql(f"ATTACH {_literal(str(path))} AS {alias} (READ_ONLY)")
        conn.commit()  # ATTACH is transactional in DuckDB, and DETACH needs no open work on it
    except Exception:  # noqa: BLE001 - an unreadable snapshot is simply rewritten
        conn.rollback()
        return None
    try:
        row = conn.exec_driver_sql(
            f"SELECT build_schema, as_of, published_at AS updated_at, built_at FROM {alias}.{SNAPSHOT_INFO}"
        ).mappings().first()
        return dict(row) if row else None
    except Exception:  # noqa: BLE001
        return None
    finally:
        conn.rollback()  # DuckDB detaches only outside a transaction that touched the database
        conn.exec_driver_sql(f"DETACH {alias}")
        conn.commit()


def private_copy(path: Path, schema: str) -> Path:
    """The snapshot's own copy of one build schema (``.bi_marts.marts_green.duckdb``): a hard link
    of the file published for that schema's last build, updated in place by its next build."""
    return path.with_name(f".{path.stem}.{schema}{path.suffix}")


def _write_info(conn, alias: str, build: dict[str, Any]) -> None:
    conn.exec_driver_sql(
        f"CREATE OR REPLACE TABLE {alias}.{SNAPSHOT_INFO} AS SELECT CAST(? AS VARCHAR) AS build_schema, "
        "CAST(? AS TIMESTAMP) AS as_of, CAST(? AS TIMESTAMP) AS published_at, CAST(? AS TIMESTAMP) AS built_at",
        (build["build_schema"], build["as_of"], build["updated_at"], build["built_at"]),
    )


def _copy_comments(conn, alias: str, tables: Sequence[str]) -> None:
    comments = conn.exec_driver_sql(
        "SELECT view_name, comment FROM duckdb_views() WHERE database_name = current_database() "
        "AND schema_name = 'marts'"
    ).all()
    column_comments = conn.exec_driver_sql(
        "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'marts' AND comment IS NOT NULL"
    ).all()
    for table, comment in comments:
        if table in tables and comment:
            conn.exec_driver_sql(f"COMMENT ON TABLE {alias}.marts.{table} IS {_literal(comment)}")
    for table, column, comment in column_comments:
        if table in tables:
            conn.exec_driver_sql(f'COMMENT ON COLUMN {alias}.marts.{table}."{column}" IS {_literal(comment)}')


def _write_whole(conn, tmp: Path, tables: Sequence[str], build: dict[str, Any]) -> None:
    """Every published mart copied into a new snapshot file ``tmp``."""
    conn.exec_driver_sql(f"ATTACH {_literal(str(tmp))} AS {_SNAPSHOT_ALIAS}")
    conn.commit()
    try:
        snap = _SNAPSHOT_ALIAS
        conn.exec_driver_sql(f"CREATE SCHEMA {snap}.marts")
        for table in tables:
            conn.exec_driver_sql(f"CREATE TABLE {snap}.marts.{table} AS SELECT * FROM marts.{table}")
        _copy_comments(conn, snap, tables)
        _write_info(conn, snap, build)
        conn.commit()
    finally:
        conn.rollback()
        conn.exec_driver_sql(f"DETACH {_SNAPSHOT_ALIAS}")
        conn.commit()


def _follow_in_place(conn, copy: Path, path: Path, tables: Sequence[str], build: dict[str, Any],
                     changes: SnapshotChanges) -> str | None:
    """Apply an in-place build's changes to the snapshot's copy of its schema; None when done,
    else why it cannot (the caller then writes the snapshot whole)."""
    if not copy.is_file():
        return f"no copy of {changes.schema} yet"
    if copy.with_name(copy.name + ".wal").exists():
        return "its copy has a leftover write-ahead log (an interrupted update)"
    if path.is_file() and os.stat(path).st_ino == os.stat(copy).st_ino:
        return "its copy is the file BI tools open now"  # only after a failed export; never written in place
    held = _snapshot_build(conn, copy)
    if held is None or held["build_schema"] != changes.schema or held["built_at"] != changes.base_built_at:
        return f"its copy of {changes.schema} does not hold the build this one started from"
    try:
        conn.exec_driver_sql(f"ATTACH {_literal(str(copy))} AS {_SNAPSHOT_ALIAS}")
        conn.commit()
    except Exception as err:  # noqa: BLE001 - typically a BI tool still holding that old file open
        conn.rollback()
        return "its copy is still open elsewhere (" + str(err).strip().splitlines()[0][:120] + ")"
    snap = _SNAPSHOT_ALIAS
    try:
        try:
            for table in tables:
                where = changes.recomputed.get(table)
                if where is None:
                    conn.exec_driver_sql(f"CREATE OR REPLACE TABLE {snap}.marts.{table} AS SELECT * FROM marts.{table}")
                else:
                    conn.exec_driver_sql(f"DELETE FROM {snap}.marts.{table} AS t WHERE {where}")
                    conn.exec_driver_sql(f"INSERT INTO {snap}.marts.{table} SELECT t.* FROM marts.{table} AS t WHERE {where}")
            _copy_comments(conn, snap, tables)
            _write_info(conn, snap, build)
            conn.commit()
        except Exception as err:  # noqa: BLE001 - the copy is left as it was; the snapshot is written whole
            conn.rollback()
            log.warning("BI snapshot: updating %s in place failed, writing it whole: %s", copy, err)
            return "the update failed"
        conn.exec_driver_sql(f"CHECKPOINT {snap}")
        conn.commit()
    finally:
        conn.rollback()
        conn.exec_driver_sql(f"DETACH {snap}")
        conn.commit()
    return None


def _link(source: Path, target: Path) -> None:
    """Make ``target`` another name of ``source``'s file, replacing ``target`` atomically."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.link")
    tmp.unlink(missing_ok=True)
    os.link(source, tmp)
    os.replace(tmp, target)


def export_snapshot(wh: Warehouse, tables: Sequence[str], changes: SnapshotChanges | None = None, *,
                    force: bool = False) -> Path | None:
    """Copy the published ``marts.*`` (rows and comments) into the BI snapshot file, atomically.

    Skipped when the snapshot already holds the published build (a rerun), unless ``force``.
    With ``changes`` (an in-place incremental build) the snapshot's own copy of that build schema
    (``private_copy``, the file published for the schema's previous build) is updated with the
    rows the build recomputed, when it holds exactly the build's base and no reader still has it
    open; otherwise every mart is copied into a new file. Either way the result is then linked
    over the snapshot path with an atomic rename. Returns the snapshot path, or None when there is
    none (PostgreSQL, in-memory DuckDB).
    """
    path = snapshot_path(wh)
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    started = time.perf_counter()
    with wh.engine.connect() as conn:
        # Copying a 10M-row fact table uncapped took 1.3 GB; capped it spills to disk as the build does.
        conn.exec_driver_sql(f"SET memory_limit = '{duckdb_memory_limit()}'")
        build = _published_build(conn)
        if not force and _snapshot_build(conn, path) == build:
            log.info("BI snapshot %s already holds the published build (%s)", path, build["build_schema"])
            return path
        copy = private_copy(path, build["build_schema"]) if build["build_schema"] else None
        why = "forced" if force else "not an in-place incremental build"
        if copy is not None and not force and changes is not None and changes.schema == build["build_schema"]:
            why = _follow_in_place(conn, copy, path, tables, build, changes)
        if why is None:
            how = f"updated in place from {changes.schema}'s previous build"
        else:
            _write_whole(conn, tmp, tables, build)
            if copy is not None:
                copy.with_name(copy.name + ".wal").unlink(missing_ok=True)
                _link(tmp, copy)
            how = f"written whole ({why})"
    # The rename is atomic: a reader opens the old file or the new one; one holding the old one
    # open keeps reading it (its inode) until it reconnects.
    if why is None:
        _link(copy, path)
    else:
        os.replace(tmp, path)
    log.info("BI snapshot %s (build %s) %s in %.1f s", path, build["build_schema"], how, time.perf_counter() - started)
    return path


def export_parquet(wh: Warehouse, tables: Sequence[str], directory: Path) -> list[Path]:
    """One Parquet file per published mart in ``directory``, each replaced atomically (DuckDB only)."""
    if not wh.is_duckdb:
        raise WarehouseError("Parquet export of the marts runs on DuckDB only (PostgreSQL serves BI tools directly)")
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    with wh.engine.connect() as conn:
        conn.exec_driver_sql(f"SET memory_limit = '{duckdb_memory_limit()}'")
        for table in tables:
            final = directory / f"{table}.parquet"
            tmp = directory / f".{table}.parquet.{os.getpid()}.tmp"
            conn.exec_driver_sql(
                f"COPY (SELECT * FROM marts.{table}) TO {_literal(str(tmp))} (FORMAT parquet, COMPRESSION zstd)"
            )
            os.replace(tmp, final)
            written.append(final)
    log.info("wrote %d Parquet files to %s", len(written), directory)
    return written


def export_for_readers(wh: Warehouse, tables: Sequence[str], changes: SnapshotChanges | None = None) -> dict[str, Any]:
    """After a publish on DuckDB: the snapshot file, and the Parquet files when configured."""
    out: dict[str, Any] = {}
    path = export_snapshot(wh, tables, changes)
    if path is not None:
        out["snapshot"] = str(path)
    directory = parquet_dir()
    if directory is not None and wh.is_duckdb:
        out["parquet"] = [str(p) for p in export_parquet(wh, tables, directory)]
    return out


# -- the SQLAlchemy dialect BI tools use on the snapshot -------------------------------------------
try:  # duckdb_engine is a dependency of the package; guarded so this module imports without it
    from duckdb_engine import Dialect as _DuckDBDialect
except ImportError:  # pragma: no cover
    _DuckDBDialect = None  # type: ignore[assignment, misc]

if _DuckDBDialect is not None:

    class DuckDBSnapshotDialect(_DuckDBDialect):  # type: ignore[misc, valid-type]
        """duckdb_engine, with column reflection that DuckDB can run (no ``pg_collation``).

        Registered as ``duckdb+nps`` (entry point of this package), for BI tools built on
        SQLAlchemy (Superset): ``duckdb+nps:////path/marts.duckdb?access_mode=read_only``.
        """

        name = "duckdb"
        driver = "nps"
        supports_statement_cache = False

        def connect(self, *cargs, **cparams):  # noqa: ANN002, ANN003, ANN201
            # Every connection attaches the snapshot file read-only to a fresh in-memory DuckDB:
            # duckdb.connect(path) would reuse the process's cached instance of the path, so a
            # BI tool holding one connection would never see a newer snapshot. This way a
            # connection reads the file as it was when opened, and the next one the new file.
            database = cparams.pop("database", None)
            if not database or database == ":memory:":
                raise ValueError("duckdb+nps needs the snapshot file: duckdb+nps:////path/to/bi_marts.duckdb")
            cparams.get("url_config", {}).pop("access_mode", None)  # always read-only
            conn = super().connect(*cargs, database=":memory:", **cparams)
            alias = "".join(ch if ch.isalnum() else "_" for ch in Path(database).stem) or "snapshot"
            conn.execute(f"ATTACH {_literal(str(database))} AS {alias} (READ_ONLY)")
            conn.execute(f"USE {alias}")
            return conn

        def _columns_query(self, schema, has_filter_names, scope, kind):  # noqa: ANN001, ANN202
            query = super()._columns_query(schema, has_filter_names, scope, kind)
            columns = [
                sa.null().label("collation") if col.name == "collation" else col for col in query.selected_columns
            ]
            return query.with_only_columns(*columns, maintain_column_froms=False)

        def get_multi_columns(self, connection, schema=None, filter_names=None, scope=None, kind=None, **kw):  # noqa: ANN001, ANN201
            # SQLAlchemy 2.1's own loop, with the rows read at once: duckdb_engine shares one
            # cursor per connection, and the type loader may query while the rows are read.
            from sqlalchemy.dialects.postgresql.base import _NamedTypeLoader

            has_filter_names, params = self._prepare_filter_names(filter_names)
            query = self._columns_query(schema, has_filter_names, scope, kind)
            rows = list(connection.execute(query, params).mappings())
            return self._get_columns_info(rows, _NamedTypeLoader(self, connection, kw), schema).items()

        # The snapshot's tables are plain CREATE TABLE AS copies: no keys, indexes, checks or
        # table options.
        # duckdb_engine's PostgreSQL-catalog queries for them cast to REGCLASS, which DuckDB
        # lacks, so full-table reflection (Table(..., autoload_with=engine)) answers "none".
        def _no_constraints(self, connection, schema, filter_names, scope, kind, empty, **kw):  # noqa: ANN001, ANN202
            tables = self.get_multi_columns(connection, schema, filter_names, scope, kind, **kw)
            return [(key, empty()) for key, _ in tables]

        def get_multi_pk_constraint(self, connection, schema=None, filter_names=None, scope=None, kind=None, **kw):  # noqa: ANN001, ANN201
            from sqlalchemy.engine.reflection import ReflectionDefaults

            return self._no_constraints(connection, schema, filter_names, scope, kind, ReflectionDefaults.pk_constraint, **kw)

        def get_multi_foreign_keys(self, connection, schema=None, filter_names=None, scope=None, kind=None, **kw):  # noqa: ANN001, ANN201
            return self._no_constraints(connection, schema, filter_names, scope, kind, list, **kw)

        def get_multi_indexes(self, connection, schema=None, filter_names=None, scope=None, kind=None, **kw):  # noqa: ANN001, ANN201
            return self._no_constraints(connection, schema, filter_names, scope, kind, list, **kw)

        def get_multi_unique_constraints(self, connection, schema=None, filter_names=None, scope=None, kind=None, **kw):  # noqa: ANN001, ANN201
            return self._no_constraints(connection, schema, filter_names, scope, kind, list, **kw)

        def get_multi_table_options(self, connection, schema=None, filter_names=None, scope=None, kind=None, **kw):  # noqa: ANN001, ANN201
            return self._no_constraints(connection, schema, filter_names, scope, kind, dict, **kw)

        def get_multi_check_constraints(self, connection, schema=None, filter_names=None, scope=None, kind=None, **kw):  # noqa: ANN001, ANN201
            return self._no_constraints(connection, schema, filter_names, scope, kind, list, **kw)

    sa.dialects.registry.register("duckdb.nps", __name__, "DuckDBSnapshotDialect")
