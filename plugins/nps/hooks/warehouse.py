"""The warehouse hook: the ``nps_warehouse`` connection as a ``nps.warehouse.Warehouse``.

``with WarehouseHook().warehouse() as wh:`` gives a warehouse (SQLAlchemy engine for PostgreSQL
or DuckDB) and disposes of it afterwards. The connection is resolved when first needed, never in
the constructor, so building the hook at DAG parse time touches nothing.

Which URL a connection gives:
- extra ``sqlalchemy_url`` (any connection type): used as it is;
- type ``nps_warehouse`` (the UI's "NPS warehouse"): extra ``engine`` ``duckdb`` with ``duckdb_path``,
  or ``postgresql`` from host, port, database (schema field), login and password;
- type ``postgres`` / ``postgresql``: the same PostgreSQL fields; type ``duckdb``: the file in
  ``schema`` or ``host``; an ``AIRFLOW_CONN_NPS_WAREHOUSE=duckdb:////abs/path.duckdb`` URI works too.
Fail closed: a missing ``nps_warehouse`` falls back to the embedded DuckDB file
(``data/warehouse.duckdb``) only in the declared embedded project (``NPS_EMBEDDED=1``, see
``nps.hooks.base``); anywhere else, and for any other ``conn_id``, the connection must exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from airflow.sdk import BaseHook

from nps.hooks.base import (
    EMBEDDED_HINT,
    ConnectionMissingError,
    connection_form_widgets,
    embedded,
    extras,
    lookup_connection,
    ui_field_behaviour,
)
from nps.provider import WAREHOUSE_CONN_TYPE

DEFAULT_CONN_ID = "nps_warehouse"


class WarehouseConfigError(ValueError):
    """The connection does not describe a usable warehouse; the message names the connection."""


def connection_to_url(conn) -> str:
    """A SQLAlchemy URL from an Airflow Connection (see the module docstring)."""
    from nps.warehouse import default_url

    extra = extras(conn)
    if extra.get("sqlalchemy_url"):
        return str(extra["sqlalchemy_url"])
    ctype = (conn.conn_type or "").lower().split("+", 1)[0]  # a URI's scheme may name a driver
    if ctype == WAREHOUSE_CONN_TYPE:
        engine = str(extra.get("engine") or ("duckdb" if extra.get("duckdb_path") else "postgresql")).lower()
        if engine == "duckdb":
            path = extra.get("duckdb_path") or conn.schema or conn.host or ""
            if not path:
                raise WarehouseConfigError(f"connection {conn.conn_id!r}: engine duckdb needs the DuckDB file (duckdb_path)")
            return f"duckdb:///{path}"
        if engine not in ("postgres", "postgresql"):
            raise WarehouseConfigError(f"connection {conn.conn_id!r}: engine {engine!r}; use postgresql or duckdb")
        ctype = "postgresql"
    if ctype in ("postgres", "postgresql"):
        auth = ""
        if conn.login:
            auth = quote(conn.login, safe="")
            if conn.password:
                auth += ":" + quote(conn.password, safe="")
            auth += "@"
        port = f":{conn.port}" if conn.port else ""
        return f"postgresql+psycopg://{auth}{conn.host or '127.0.0.1'}{port}/{conn.schema or 'postgres'}"
    if ctype == "duckdb":
        path = conn.schema or conn.host or ""
        if path:
            return f"duckdb:///{path}"
        if embedded():
            return default_url()
        raise WarehouseConfigError(f"connection {conn.conn_id!r}: type duckdb needs the DuckDB file (schema or host)")
    raise WarehouseConfigError(
        f"connection {conn.conn_id!r} has type {ctype!r}; use NPS warehouse, postgres or duckdb, "
        "or put a sqlalchemy_url in its extra"
    )


class WarehouseHook(BaseHook):
    """The program's warehouse (PostgreSQL or DuckDB) from an Airflow connection."""

    conn_name_attr = "conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = WAREHOUSE_CONN_TYPE
    hook_name = "NPS warehouse"
    get_ui_field_behaviour = classmethod(ui_field_behaviour)
    get_connection_form_widgets = classmethod(connection_form_widgets)

    def __init__(self, conn_id: str = DEFAULT_CONN_ID, *, url: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self._url = url  # an explicit URL (tests, scripts) skips the connection lookup

    def __repr__(self) -> str:
        return f"WarehouseHook(conn_id={self.conn_id!r})"

    def get_uri(self) -> str:
        """The SQLAlchemy URL (with its password: never log it, use ``masked_uri``)."""
        if self._url:
            return self._url
        conn = lookup_connection(self.conn_id)
        if conn is None:
            if self.conn_id == DEFAULT_CONN_ID and embedded(self.conn_id):
                from nps.warehouse import default_url

                return default_url()  # the embedded DuckDB file of the demo, make ui and the tests
            hint = f"; {EMBEDDED_HINT}" if self.conn_id == DEFAULT_CONN_ID else ""
            raise ConnectionMissingError(
                f"the warehouse connection {self.conn_id!r} does not exist: add it (Admin -> Connections, type "
                f"NPS warehouse) or set AIRFLOW_CONN_{self.conn_id.upper()}=postgresql://user:password@host:5432/db"
                + hint
            )
        return connection_to_url(conn)

    def masked_uri(self) -> str:
        from nps.warehouse import mask_url, normalize_url

        return mask_url(normalize_url(self.get_uri()))

    def get_conn(self):
        """A new ``nps.warehouse.Warehouse``; the caller disposes of it (or use ``warehouse()``)."""
        from nps.warehouse import Warehouse

        return Warehouse(self.get_uri())

    def get_sqlalchemy_engine(self):
        """The SQLAlchemy engine of a new warehouse handle (dispose of it when done)."""
        return self.get_conn().engine

    @contextmanager
    def warehouse(self) -> Iterator[Any]:
        """``with hook.warehouse() as wh:``, disposed of afterwards, whatever happens."""
        wh = self.get_conn()
        try:
            with wh.held():  # a DuckDB file stays open for the task's work (Warehouse.held)
                yield wh
        finally:
            wh.dispose()

    def test_connection(self) -> tuple[bool, str]:
        """The UI's "Test" button: can the warehouse be reached?"""
        try:
            with self.warehouse() as wh:
                wh.check()
                return True, f"connected to {self.masked_uri()} ({wh.dialect})"
        except Exception as err:  # noqa: BLE001 - the UI shows the reason
            return False, str(err)
