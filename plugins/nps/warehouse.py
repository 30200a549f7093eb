"""Warehouse access: one SQLAlchemy engine for DuckDB (embedded default) or PostgreSQL.

It owns the connection URL, the versioned migrations in ``include/sql/migrations/`` (after which
``nps.marts.ensure_tables`` creates the mart tables from their definitions), running SQL
files with bound parameters, and bulk loading of DataFrames (DuckDB: DataFrame registration and
INSERT ... SELECT; PostgreSQL: COPY). Nothing here imports Airflow; ``nps.hooks`` resolves the
``nps_warehouse`` connection into a URL.

SQL files hold one or more statements separated by ``;`` and take values only as ``:name``
bound parameters. A file may have a dialect-specific twin
(``name.postgresql.sql`` / ``name.duckdb.sql``) that is used instead on that engine; keep those rare.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from nps import DATA_DIR, SQL_DIR

log = logging.getLogger(__name__)

MIGRATIONS_DIR = SQL_DIR / "migrations"
DEFAULT_DUCKDB_PATH = DATA_DIR / "warehouse.duckdb"
_MIGRATION_LOCK_ID = 4_127_001  # pg advisory lock key, so two DAGs never migrate at once
_PG_NULL = "<<nps-null-7f3a>>"  # NULL marker for COPY: no real value looks like it
_MIGRATION_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


class WarehouseError(RuntimeError):
    """The warehouse cannot be reached or a statement failed; the message names which."""


def default_url() -> str:
    return f"duckdb:///{DEFAULT_DUCKDB_PATH}"


def normalize_url(url: str) -> str:
    """Accept ``postgres://`` and ``postgresql://`` and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def mask_url(url: str) -> str:
    """The URL without its password, for logs and error messages."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is shown as its scheme only
        return url.split("://", 1)[0] + "://..."


def split_statements(sql: str) -> list[str]:
    """Split SQL text into statements at ``;`` outside quotes and ``--`` comments."""
    out, buf, i, n = [], [], 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch == "-" and sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j < 0 else j
            buf.append(sql[i:j])
            i = j
            continue
        if ch in ("'", '"'):
            j = i + 1
            while j < n:
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:  # doubled quote inside a literal
                        j += 2
                        continue
                    break
                j += 1
            buf.append(sql[i : j + 1])
            i = j + 1
            continue
        if ch == ";":
            out.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    out.append("".join(buf))
    statements = []
    for stmt in out:
        code = "\n".join(line for line in stmt.splitlines() if not line.strip().startswith("--")).strip()
        if code:
            statements.append(stmt.strip())
    return statements


def _dicts(res) -> list[dict[str, Any]]:
    """A result's rows as dicts, fetched at once (iterating a DuckDB result fetches row by row:
    ~25 us a row of driver calls, 2.5 s for 100,000 answers)."""
    keys = list(res.keys())
    return [dict(zip(keys, row, strict=True)) for row in res.fetchall()]


#: Values per statement for a list parameter (``Warehouse.run_for_list``).
LIST_CHUNK = 10_000
#: DuckDB runs inside the Python process: the heavy work (a marts build, the BI snapshot copy)
#: caps its memory, spilling to disk beyond it, so a 10M-answer rebuild stays under 1 GB.
#: NPS_DUCKDB_MEMORY_LIMIT overrides (e.g. "4GB", for workers that can spare it).
DUCKDB_MEMORY_LIMIT = "600MB"


def duckdb_memory_limit() -> str:
    """The DuckDB memory cap: ``NPS_DUCKDB_MEMORY_LIMIT`` or ``DUCKDB_MEMORY_LIMIT``."""
    limit = os.environ.get("NPS_DUCKDB_MEMORY_LIMIT") or DUCKDB_MEMORY_LIMIT
    if not limit.replace(".", "").replace(" ", "").isalnum():
        raise ValueError(f"NPS_DUCKDB_MEMORY_LIMIT={limit!r} is not a size such as 600MB or 4GB")
    return limit


def _arrow_csv(df) -> bytes | None:  # noqa: ANN001 - a pandas DataFrame
    """The frame as COPY CSV written by Arrow, or None when a column is not plain text, numbers,
    booleans or timestamps without a zone (pandas' ``to_csv`` writes those). Arrow writes in C++
    without holding the GIL, several times faster than ``to_csv``: a bulk load can run beside
    Python work (``nps.ingest.load``). Nulls are unquoted empty fields, strings are quoted."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        table = pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError):
        return None
    fields = []
    for field in table.schema:
        t = field.type
        if pa.types.is_timestamp(t) and t.tz is None:
            # microseconds, cut like pandas' %f, never rounded
            fields.append(pa.field(field.name, pa.timestamp("us")))
        elif (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t) or pa.types.is_floating(t)
              or pa.types.is_boolean(t) or pa.types.is_null(t)):
            fields.append(field)
        else:
            return None
    table = table.cast(pa.schema(fields), safe=False)
    buf = io.BytesIO()
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False))
    return buf.getvalue()


def holding(fn):
    """Run ``fn(wh, ...)`` with its warehouse held open (``Warehouse.held``): for the program's
    units of work (a build step, a decision run, a send), whoever calls them."""
    @functools.wraps(fn)
    def wrapper(wh, *args, **kwargs):
        with wh.held():
            return fn(wh, *args, **kwargs)
    return wrapper


class Warehouse:
    """A handle on the warehouse: engine, migrations, SQL files and bulk loads."""

    def __init__(self, url: str | None = None, *, sql_dir: Path = SQL_DIR) -> None:
        self.url = normalize_url(url or default_url())
        self.sql_dir = sql_dir
        try:
            parsed = sa.make_url(self.url)
        except Exception as err:  # noqa: BLE001
            raise WarehouseError(f"warehouse URL {mask_url(self.url)!r} is not a valid SQLAlchemy URL: {err}") from None
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("duckdb", "postgresql"):
            raise WarehouseError(f"warehouse URL {mask_url(self.url)!r}: only duckdb and postgresql are supported")
        if self.dialect == "duckdb" and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # NullPool: a DuckDB file is closed between uses, so another process (the UI, the next
        # task) can open it; PostgreSQL tasks are short-lived and open few connections.
        kwargs: dict[str, Any] = {"poolclass": NullPool}
        if self.dialect == "postgresql":
            kwargs["connect_args"] = {"connect_timeout": 10, "application_name": "nps"}
        self.engine: Engine = sa.create_engine(self.url, **kwargs)
        self._held: Any = None  # the connection that keeps a DuckDB file open (held())
        self._holds = 0

    def __repr__(self) -> str:
        return f"Warehouse({mask_url(self.url)})"

    @property
    def is_duckdb(self) -> bool:
        return self.dialect == "duckdb"

    def dispose(self) -> None:
        self.engine.dispose()

    # -- connections ---------------------------------------------------------------------------
    def check(self) -> None:
        """Fail fast, naming the URL (without password), when the warehouse cannot be reached."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except Exception as err:  # noqa: BLE001
            reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
            raise WarehouseError(f"cannot connect to warehouse {mask_url(self.url)}: {reason}") from None

    @contextmanager
    def held(self) -> Iterator[Warehouse]:
        """Keep a DuckDB file open for the block (one task's work); a no-op on PostgreSQL.

        Connections are opened per statement group and closed after (``NullPool``, so nothing in
        this process holds the file between tasks). Opening a DuckDB file reads its catalogue:
        ~20-25 ms here, which a marts build paid ~120 times. While one connection stays open,
        DuckDB reuses the open database for every further connection of this process (~0.4 ms)
        and checkpoints once at the end instead of at every close. Other processes cannot open
        the file meanwhile, which the embedded project never asks of them: its tasks run one at
        a time (``make ui``: parallelism 1; the ``nps_warehouse`` pool), and BI tools read the
        snapshot file (``nps.bi``). Re-entrant."""
        database = sa.make_url(self.url).database if self.is_duckdb else None
        if not database or database == ":memory:":
            yield self
            return
        if self._holds == 0:
            self._held = self.engine.raw_connection()
        self._holds += 1
        try:
            yield self
        finally:
            self._holds -= 1
            if self._holds == 0:
                held, self._held = self._held, None
                held.close()

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection inside one transaction: committed on success, rolled back on error."""
        with self.engine.begin() as conn:
            yield conn

    # -- SQL files -----------------------------------------------------------------------------
    def sql_path(self, name: str) -> Path:
        """Resolve ``marts/nps_by_period`` to its file, preferring a dialect-specific twin."""
        base = self.sql_dir / name.removesuffix(".sql")
        special = base.with_name(f"{base.name}.{self.dialect}.sql")
        path = special if special.is_file() else base.with_name(base.name + ".sql")
        if not path.is_file():
            raise WarehouseError(f"SQL file not found: {path}")
        return path

    def read_sql(self, name: str) -> str:
        return self.sql_path(name).read_text(encoding="utf-8")

    def run_sql(self, conn: Connection, sql: str, params: Mapping[str, Any] | None = None, *, source: str = "") -> int:
        """Run every statement of ``sql``; returns the rowcount of the last one."""
        rowcount = 0
        for i, stmt in enumerate(split_statements(sql), 1):
            try:
                res = conn.execute(sa.text(stmt), dict(params or {}))
            except Exception as err:  # noqa: BLE001
                where = f"{source} statement {i}" if source else f"statement {i}"
                reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
                raise WarehouseError(f"{where} failed on {self.dialect}: {reason}") from err
            rowcount = res.rowcount
        return rowcount

    def run_file(self, conn: Connection, name: str, params: Mapping[str, Any] | None = None) -> int:
        """Run the SQL file ``include/sql/<name>.sql`` with bound parameters."""
        path = self.sql_path(name)
        return self.run_sql(conn, path.read_text(encoding="utf-8"), params, source=str(path.relative_to(self.sql_dir)))

    def run_for_list(self, conn: Connection, name: str, params: Mapping[str, Any], param: str, values: list[str], *,
                     returning: bool = False) -> int | set[str]:
        """Run ``include/sql/<name>.sql`` whose ``:<param>`` is a list of strings.

        The SQL takes the list as ONE array value, ``IN (SELECT UNNEST(CAST(:keys AS VARCHAR[])))``,
        on both engines: an expanded ``IN (:k1, ..., :k1000)`` costs DuckDB ~200 ms to bind per
        thousand values, the array ~20 ms. Runs in sets of ``LIST_CHUNK``; returns the summed
        rowcount, or with ``returning`` the set of values returned (see ``returning``).
        """
        out: set[str] | int = set() if returning else 0
        for i in range(0, len(values), LIST_CHUNK):
            chunk = {**params, param: list(values[i : i + LIST_CHUNK])}
            if returning:
                out |= set(self.returning(conn, name, chunk))  # type: ignore[operator]
            else:
                out += self.run_file(conn, name, chunk)  # type: ignore[operator]
        return out

    def returning(self, conn: Connection, name: str, params: Mapping[str, Any]) -> list[Any]:
        """The first column of the rows that ``include/sql/<name>.sql`` returns (an ``UPDATE ...
        RETURNING``), inside the caller's transaction.

        The file's DuckDB twin (``<name>.duckdb.sql``) says it as a SELECT of the rows followed by
        the UPDATE without RETURNING: DuckDB runs an UPDATE with RETURNING as a delete and an
        insert, three times the statement and its commit (6-7 s to mark 34,546 cases owner-alerted).
        In one transaction of DuckDB's single writer the two are the same rows. The rows returned
        are the first statement's.
        """
        rows: list[Any] | None = None
        path = self.sql_path(name)
        for i, stmt in enumerate(split_statements(path.read_text(encoding="utf-8")), 1):
            try:
                res = conn.execute(sa.text(stmt), dict(params))
                if rows is None:
                    rows = [r[0] for r in res.fetchall()]
            except Exception as err:  # noqa: BLE001
                reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
                raise WarehouseError(f"{path.relative_to(self.sql_dir)} statement {i} failed on {self.dialect}: "
                                     f"{reason}") from err
        return rows or []

    def query_for_list(self, sql: str, params: Mapping[str, Any], param: str, values: list[str]
                       ) -> list[dict[str, Any]]:
        """Rows of ``sql`` (a query whose ``:<param>`` is a list, as in ``run_for_list``) as dicts."""
        out: list[dict[str, Any]] = []
        with self.engine.connect() as conn:
            for i in range(0, len(values), LIST_CHUNK):
                out += _dicts(conn.execute(sa.text(sql), {**params, param: list(values[i : i + LIST_CHUNK])}))
        return out

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows of one statement as dicts."""
        with self.engine.connect() as conn:
            return _dicts(conn.execute(sa.text(sql), dict(params or {})))

    def query_rows(self, sql: str, params: Mapping[str, Any] | None = None) -> tuple[list[str], list[Any]]:
        """(column names, rows) of one statement; rows are read by position (``row[i]``): for large
        results, where a dict per row costs more than the query (``nps.followups.decide``)."""
        with self.engine.connect() as conn:
            res = conn.execute(sa.text(sql), dict(params or {}))
            return list(res.keys()), res.fetchall()

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), dict(params or {})).scalar()

    def query_df(self, sql: str, params: Mapping[str, Any] | None = None):  # -> pandas.DataFrame
        import pandas as pd

        with self.engine.connect() as conn:
            res = conn.execute(sa.text(sql), dict(params or {}))
            return pd.DataFrame(res.fetchall(), columns=list(res.keys()))

    # -- bulk load -----------------------------------------------------------------------------
    def load_df(self, conn: Connection, table: str, df, columns: list[str] | None = None) -> int:
        """Append a DataFrame to ``schema.table`` in sets, inside the caller's transaction."""
        cols = columns or list(df.columns)
        if df.empty:
            return 0
        col_list = ", ".join(cols)
        if self.is_duckdb:
            raw = conn.connection.driver_connection
            view = f"_nps_load_{id(df)}"
            raw.register(view, df[cols])
            try:
                raw.execute(f"INSERT INTO {table} ({col_list}) SELECT {col_list} FROM {view}")
            finally:
                raw.unregister(view)
        else:
            data = _arrow_csv(df[cols])
            if data is not None:  # NULL is an unquoted empty field, an empty string is ""
                copy_sql = f"COPY {table} ({col_list}) FROM STDIN WITH (FORMAT csv)"
            else:
                buf = io.StringIO()
                df[cols].to_csv(buf, index=False, header=False, na_rep=_PG_NULL, date_format="%Y-%m-%d %H:%M:%S.%f")
                data = buf.getvalue()
                copy_sql = f"COPY {table} ({col_list}) FROM STDIN WITH (FORMAT csv, NULL '{_PG_NULL}')"
            raw = conn.connection.driver_connection
            with raw.cursor() as cur, cur.copy(copy_sql) as copy:
                copy.write(data)
        return len(df)

    # -- migrations ----------------------------------------------------------------------------
    def migrations(self) -> list[tuple[int, str, Path]]:
        found = []
        for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
            m = _MIGRATION_NAME.match(path.name)
            if m:
                found.append((int(m.group(1)), m.group(2), path))
        versions = [v for v, _, _ in found]
        if len(versions) != len(set(versions)):
            raise WarehouseError(f"two migrations share a version number in {MIGRATIONS_DIR}")
        return found

    def migrate(self) -> list[str]:
        """Bring the schema up to date (the migrations, then the mart tables missing from their
        definitions); returns the names of the migrations applied (often none)."""
        self.check()
        applied_now: list[str] = []
        with self.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_ID})
            conn.execute(sa.text("CREATE SCHEMA IF NOT EXISTS ops"))
            conn.execute(
                sa.text(
                    "CREATE TABLE IF NOT EXISTS ops.schema_migrations ("
                    " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
                )
            )
            done = {r[0] for r in conn.execute(sa.text("SELECT version FROM ops.schema_migrations"))}
            for version, name, path in self.migrations():
                if version in done:
                    continue
                log.info("applying warehouse migration %03d_%s", version, name)
                # A dialect twin (020_x.postgresql.sql) replaces the migration on that engine,
                # like any SQL file's twin; keep them for engine-only settings.
                twin = path.with_name(f"{path.stem}.{self.dialect}.sql")
                path = twin if twin.is_file() else path
                self.run_sql(conn, path.read_text(encoding="utf-8"), source=path.name)
                conn.execute(
                    sa.text(
                        "INSERT INTO ops.schema_migrations (version, name, applied_at) "
                        "VALUES (:v, :n, CAST(CURRENT_TIMESTAMP AS TIMESTAMP))"
                    ),
                    {"v": version, "n": name},
                )
                applied_now.append(f"{version:03d}_{name}")
            # The mart tables come from their definitions (include/sql/marts/<mart>.yml), not from
            # migrations: the missing ones are created here, so the marts exist before a first build.
            from nps.marts import ensure_tables

            ensure_tables(self, conn)
        return applied_now

    def schema_version(self) -> int:
        return int(self.scalar("SELECT COALESCE(MAX(version), 0) FROM ops.schema_migrations") or 0)
