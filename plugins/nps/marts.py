"""Marts: build the NPS/CSAT/CES marts in the warehouse, audit them, publish them.

It owns the SQL in ``include/sql/marts/`` (one mart per file, beside its YAML definition: see
``nps.mart_docs``), ``include/sql/marts/checks/`` (audit checks), and the schemas of migration
004: the published views ``marts.<mart>`` and two build schemas ``marts_blue`` / ``marts_green``
holding the tables (blue/green). The tables come from their definitions, never from migrations:
``ensure_tables`` creates the missing ones after the migrations, and every build recreates the
staging schema's tables from the definitions (which are part of the fingerprint, so a changed
definition means a full rebuild). Every build is as of one instant, incremental or full:

1. ``build_staging``: the build schema that is not published is the staging schema: mark it
   ``building``, recreate its tables from their definitions, load the comment-theme keywords
   from the program config, run the mart SQL files in order, one transaction each (in them
   ``marts_staging.`` names the staging schema), then mark it ``built``. Rows never leave the warehouse. ``plan_build``
   decides between a full rebuild and an incremental one (migration 040, ``INCREMENTAL``): the
   surveys, periods and accounts changed since a base build (the staging schema's own last
   build, updated in place, else the published one, copied) are recomputed through the
   incremental branch of the same SQL files (``include/sql/marts/increments/``,
   ``_incremental_macros.sql.j2``; ``marts_base.`` names the base schema), the rest is kept.
   ``ops.mart_build_state`` records each schema's build: mode, fingerprint, watermarks.
2. ``audit``: run every check on staging (a check implied by others that passed is skipped); a
   check returns offending rows, and any row fails the build with ``MartCheckError`` naming the
   check and showing the offending values.
3. ``publish``: repoint every ``marts.<mart>`` view to the audited schema and re-apply the
   comments, in ONE transaction: readers see the old marts or the new ones, never a mix, and the
   big fact table is written once per build instead of twice (staging, then a copy). On DuckDB
   the published marts are then copied into the BI snapshot file (``nps.bi``; after an in-place
   incremental build only its recomputed rows, ``snapshot_changes``); on PostgreSQL
   the DDL runs in short, retried lock waits so a long dashboard query blocks nobody for long.

``ops.mart_builds`` records each build schema's status (building, built, audited, published,
retired), so every step is safe to rerun. What the marts say to people (the demo's headline
figures, the KPI reports) lives in ``nps.reports``. Nothing here imports Airflow.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from nps import bi, mart_docs
from nps.config import ConfigError, ProgramConfig, load_config
from nps.warehouse import Warehouse, WarehouseError, duckdb_memory_limit, holding, split_statements

log = logging.getLogger(__name__)

PUBLISHED = "marts"
#: The two build schemas; the one not published is the staging schema of the next build.
BUILD_SCHEMAS: tuple[str, str] = ("marts_blue", "marts_green")
#: How the mart SQL files name the staging schema; replaced by the build schema when run.
STAGING_TOKEN = "marts_staging."
#: The published marts, in build order (each has include/sql/marts/<name>.sql).
MARTS: tuple[str, ...] = (
    "fct_survey_responses",
    "mart_nps",
    "mart_csat",
    "mart_ces",
    "mart_response_rates",
    "mart_account_nps",
    "mart_account_nps_summary",
    "mart_retention",
    "mart_churn_risk",
    "fct_comment_themes",
    "mart_comment_themes",
    "fct_followups",
    "mart_followups",
    "mart_loop_recovery",
)
#: Build helper tables (migration 004), rebuilt by every build.
HELPERS: tuple[str, ...] = ("ops.mart_calendar", "ops.mart_account_spans", "ops.mart_theme_keywords")
#: SQL files in the order they run: a helper right after what it depends on.
BUILD_STEPS: tuple[str, ...] = (MARTS[0], "calendar", "account_spans", *MARTS[1:])
#: Marts an incremental build slices, and how (include/sql/marts/increments/carry_forward.sql):
#: ``survey`` rows of the changed surveys, ``response`` their comment themes, ``score`` periods
#: (and the period after each, for the previous-period comparison), ``account`` the (period,
#: account) cells of the changed NPS answers and every period of accounts whose attributes changed, ``rates`` the send periods of the changed invitations,
#: ``themes`` the months and quarters the changed answers fall in, ``retention`` the touched
#: periods and those a changed contract span moves, ``risk`` the accounts whose churn-risk inputs
#: changed (increments/account_slices.sql; every kept row then gets the new as_of and rank).
#: Every other mart is rebuilt in full on every build: ``mart_account_nps_summary`` (one row
#: per month/quarter, from mart_account_nps and the contract spans), ``fct_followups``,
#: ``mart_followups`` and ``mart_loop_recovery`` (follow-up decisions and cases, which change in place).
INCREMENTAL: dict[str, str] = {
    "fct_survey_responses": "survey",
    "mart_nps": "score",
    "mart_csat": "score",
    "mart_ces": "score",
    "mart_response_rates": "rates",
    "mart_account_nps": "account",
    "mart_retention": "retention",
    "mart_churn_risk": "risk",
    "fct_comment_themes": "response",
    "mart_comment_themes": "themes",
}
#: The score marts' grids are dense over every dimension value that ever answered.
_PRUNE_VALUES = ("mart_nps", "mart_csat", "mart_ces")
#: How the mart SQL files name the base build's schema: the build an incremental build starts
#: from (the staging schema's own last build, updated in place, or else the published build).
BASE_TOKEN = "marts_base."
#: Working tables of an incremental build (migration 040), emptied when a build starts.
_WORKING = ("ops.mart_changed_surveys", "ops.mart_changed_accounts", "ops.mart_slices", "ops.mart_slice_keys",
            "ops.mart_slice_cells")
#: Part of the fingerprint: bump when the incremental logic in this module changes meaning.
INCREMENTAL_VERSION = "3"
#: A watermark older than any data (an empty source table).
_EPOCH = datetime(1900, 1, 1)
#: Audit checks (include/sql/marts/checks/<name>.sql); each returns offending rows.
CHECKS: tuple[str, ...] = ("fct_complete", "unique_keys", "orphan_responses", "category_counts", "nps_range")
#: A check that others imply is skipped when they pass: one fact row per answered survey with
#: unique survey ids leaves no answer outside the ledger, so the orphan join (10M x 10M rows)
#: would find nothing. When one of them fails, the implied check runs first, so the error names
#: the offending answers rather than only the counts.
IMPLIED_BY: dict[str, tuple[str, ...]] = {"orphan_responses": ("fct_complete", "unique_keys")}
#: An incremental build recomputes every churn-risk row (the full SQL, no slice filters) when the
#: accounts whose inputs changed are at least this share of the active accounts.
RISK_ALL_SHARE = 0.5
#: Churn risk looks back this many days before the build instant.
RISK_WINDOW_DAYS = 180
#: A relationship cycle counts as unanswered only when its last invitation is this old.
CYCLE_GRACE_DAYS = 14
_EXAMPLES = 5
#: PostgreSQL work_mem for the build transaction (server memory); NPS_PG_WORK_MEM overrides.
PG_WORK_MEM = "256MB"
#: Tables whose statistics PostgreSQL needs before the next steps plan their joins.
_ANALYZE_AFTER = {"fct_survey_responses", "account_spans"}


class MartCheckError(RuntimeError):
    """An audit check found offending rows; the published marts were left untouched."""

    def __init__(self, check: str, count: int, examples: list[dict[str, Any]]) -> None:
        self.check = check
        self.count = count
        self.examples = examples
        shown = "; ".join(", ".join(f"{k}={v}" for k, v in row.items()) for row in examples)
        super().__init__(
            f"mart audit check {check!r} failed: {count} offending row(s), e.g. {shown} "
            f"(include/sql/marts/checks/{check}.sql); the published marts were not replaced"
        )


class StagingIncompleteError(RuntimeError):
    """The staging schema's build stopped half-way; it must be rebuilt before it can be audited."""


def as_of_from_context(context: dict[str, Any]) -> datetime:
    """The instant a run covers: data_interval_end, else logical_date, else run_after (asset runs)."""
    for key in ("data_interval_end", "logical_date"):
        value = context.get(key)
        if value is not None:
            return _naive_utc(value)
    dag_run = context.get("dag_run")
    run_after = getattr(dag_run, "run_after", None)
    if run_after is None:
        raise ValueError("the run has no data_interval_end, logical_date or run_after to build the marts as of")
    return _naive_utc(run_after)


def _naive_utc(value: datetime) -> datetime:
    if value.tzinfo is not None:
        from datetime import UTC

        value = value.astimezone(UTC).replace(tzinfo=None)
    return datetime(value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond)


def build_params(as_of: datetime, config: ProgramConfig) -> dict[str, Any]:
    """The bound parameters every mart SQL file may use."""
    as_of = _naive_utc(as_of)
    return {
        "as_of": as_of,
        "as_of_date": as_of.date(),
        "window_start": as_of - timedelta(days=RISK_WINDOW_DAYS),
        "cycle_grace_start": as_of - timedelta(days=CYCLE_GRACE_DAYS),
        "default_locale": config.program.default_locale,
    }


def theme_keywords(config: ProgramConfig) -> list[dict[str, str]]:
    """The config's theme taxonomy as rows (theme, locale, keyword, LIKE pattern, stem)."""
    rows: dict[tuple[str, str, str], dict[str, str]] = {}
    for theme, by_locale in sorted(config.themes.items()):
        for locale, words in sorted(by_locale.items()):
            for word in words:
                kw = " ".join(word.lower().split())
                if len(kw.split(" ")[0]) < 2 or any(ch in kw for ch in "%_\\"):
                    raise ConfigError(
                        f"themes.{theme}.{locale}: keyword {word!r} must start with a word of 2+ characters "
                        "and contain no % _ or \\"
                    )
                # The comment is padded and split into words with single spaces, so " kw" at
                # any position is a word prefix; the stem finds candidate words by equi-join.
                rows[(theme, locale, kw)] = {"theme": theme, "locale": locale, "keyword": kw, "pattern": f"% {kw}%", "stem": kw[:2]}
    return list(rows.values())


def published_schema(wh: Warehouse) -> str:
    """The build schema the ``marts`` views point at."""
    rows = wh.query("SELECT build_schema FROM ops.mart_builds WHERE status = 'published'")
    return rows[0]["build_schema"] if rows else BUILD_SCHEMAS[0]


def staging_schema(wh: Warehouse) -> str:
    """The build schema that is not published: where the next build goes."""
    current = published_schema(wh)
    return next(s for s in BUILD_SCHEMAS if s != current)


def _build_state(wh: Warehouse, schema: str) -> dict[str, Any]:
    rows = wh.query("SELECT status, as_of FROM ops.mart_builds WHERE build_schema = :s", {"s": schema})
    return rows[0] if rows else {"status": "retired", "as_of": None}


def _set_state(wh: Warehouse, conn, schema: str, status: str, as_of: datetime | None = None) -> None:
    from nps.clock import utcnow

    sets = "status = :st, updated_at = :now" + (", as_of = :as_of" if as_of is not None else "")
    wh.run_sql(
        conn,
        f"UPDATE ops.mart_builds SET {sets} WHERE build_schema = :s",
        {"st": status, "now": utcnow(), "as_of": as_of, "s": schema},
    )


def run_mart_sql(wh: Warehouse, conn, name: str, schema: str, params: dict[str, Any] | None = None, *,
                 incremental: bool = False, base: str | None = None, **variables: Any) -> int:
    """Run ``include/sql/marts/<name>.sql`` with ``marts_staging.`` pointing at ``schema``.

    ``incremental`` renders the file's incremental branch (``marts_base.`` then points at
    ``base``, the build it starts from); ``variables`` are further template variables.
    """
    if schema not in BUILD_SCHEMAS:
        raise ValueError(f"{schema!r} is not a build schema {BUILD_SCHEMAS}")
    path = wh.sql_path(f"marts/{name}")
    sql = render_mart_sql(path, incremental=incremental, **variables).replace(STAGING_TOKEN, f"{schema}.")
    if BASE_TOKEN in sql:
        if base not in BUILD_SCHEMAS:
            raise ValueError(f"{name}: an incremental step needs the base build schema, not {base!r}")
        sql = sql.replace(BASE_TOKEN, f"{base}.")
    return wh.run_sql(conn, sql, params, source=str(path.relative_to(wh.sql_dir)))


def render_mart_sql(path, *, incremental: bool = False, **variables: Any) -> str:
    """A mart SQL file rendered through Jinja2, with the shared macros of ``include/sql/marts/``.

    Plain SQL renders to itself, so a new mart is still just a new SQL file; the score marts
    import ``_score_macros.sql.j2`` (the period x dimension grid and the interval maths), and
    the sliced marts ``_incremental_macros.sql.j2`` (``incremental`` true renders the slice
    filters). Values never go through Jinja: they stay bound parameters.
    """
    import jinja2

    env = jinja2.Environment(
        # checks/ and increments/ import the macros of include/sql/marts/, their parent
        loader=jinja2.FileSystemLoader([str(path.parent), str(path.parent.parent)]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.do"],
        autoescape=False,  # noqa: S701 - SQL text from the repository, not HTML
    )
    try:
        return env.get_template(path.name).render(incremental=incremental, **variables)
    except jinja2.TemplateError as err:
        where = f"{path.name} line {getattr(err, 'lineno', '?')}"
        raise ValueError(f"mart SQL template {where}: {err}") from err


def fingerprint(wh: Warehouse, config: ProgramConfig) -> str:
    """sha256 of the mart logic (every SQL file and macro of include/sql/marts/, checks and
    increments included, and the tables' definitions, not their descriptions) and of the config
    that feeds the marts (theme keywords, default locale, look-back windows); a build whose
    fingerprint differs from the published build's is a full rebuild."""
    h = hashlib.sha256()
    settings = {"version": INCREMENTAL_VERSION, "dialect": wh.dialect, "risk_window_days": RISK_WINDOW_DAYS,
                "cycle_grace_days": CYCLE_GRACE_DAYS, "default_locale": config.program.default_locale,
                "theme_keywords": theme_keywords(config), "marts": MARTS, "incremental": INCREMENTAL,
                "tables": [mart_docs.create_table(doc, STAGING_TOKEN.rstrip(".")) for doc in definitions(wh)]}
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    marts_dir = wh.sql_dir / "marts"
    for path in sorted(p for p in marts_dir.rglob("*") if p.suffix in (".sql", ".j2")):
        h.update(str(path.relative_to(marts_dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def definitions(wh: Warehouse) -> list[mart_docs.MartDoc]:
    """Every mart's table definition (``include/sql/marts/<mart>.yml``), in ``MARTS`` order."""
    return mart_docs.load_all(MARTS, wh.sql_dir / "marts")


def ensure_tables(wh: Warehouse, conn) -> None:
    """Create the mart tables missing from a build schema, and the missing ``marts.<mart>`` views
    (over the published schema), from their definitions; run after the migrations
    (``Warehouse.migrate``). Existing tables are kept as they are: a build recreates its staging
    schema's tables anyway, and a changed definition makes it a full rebuild (``fingerprint``)."""
    # One catalog query first: on an up-to-date warehouse (every migrate() after the first) there is
    # nothing to create, and 28 CREATE TABLE IF NOT EXISTS statements would cost ~0.1 s on DuckDB.
    present = {(r[0], r[1]) for r in conn.execute(sa.text(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema IN (:a, :b, :p)"), {"a": BUILD_SCHEMAS[0], "b": BUILD_SCHEMAS[1], "p": PUBLISHED})}
    if all((s, t) in present for s in (*BUILD_SCHEMAS, PUBLISHED) for t in MARTS):
        return
    for doc in definitions(wh):
        for schema in BUILD_SCHEMAS:
            if (schema, doc.mart) not in present:
                wh.run_sql(conn, mart_docs.create_table(doc, schema))
    published = conn.execute(sa.text("SELECT build_schema FROM ops.mart_builds WHERE status = 'published'")).scalar()
    for table in MARTS:
        if (PUBLISHED, table) not in present:
            wh.run_sql(conn, f"CREATE VIEW {PUBLISHED}.{table} AS SELECT * FROM {published or BUILD_SCHEMAS[0]}.{table}")


def _point_view(wh: Warehouse, conn, table: str, schema: str) -> None:
    """``marts.<table>`` reads ``schema.<table>``. PostgreSQL refuses to change a view's columns in
    place, so a view whose columns differ (a changed definition) is dropped and created anew, in
    the caller's transaction: readers see the old view or the new one."""
    def columns(s: str) -> list[tuple]:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns "
            "WHERE table_schema = :s AND table_name = :t ORDER BY ordinal_position"), {"s": s, "t": table})]

    if columns(PUBLISHED) != columns(schema):
        wh.run_sql(conn, f"DROP VIEW IF EXISTS {PUBLISHED}.{table}")
    wh.run_sql(conn, f"CREATE OR REPLACE VIEW {PUBLISHED}.{table} AS SELECT * FROM {schema}.{table}")


def build_state(wh: Warehouse, schema: str) -> dict[str, Any] | None:
    """How the marts in ``schema`` were built (ops.mart_build_state), or None."""
    rows = wh.query("SELECT * FROM ops.mart_build_state WHERE build_schema = :s", {"s": schema})
    return rows[0] if rows else None


def plan_build(wh: Warehouse, as_of: datetime, config: ProgramConfig, *, full_rebuild: bool = False) -> dict[str, Any]:
    """Full or incremental, from which base build, and why; with the fingerprint and the
    sources' watermarks now.

    The base is the staging schema's own last build when it was published and then retired (the
    increment is applied in place: only the changed slices are rewritten), else the published
    build (the unchanged rows are copied from it). A base qualifies when it was made by the same
    mart logic and config (fingerprint), as of no later than this build, and no source rows at
    or below its watermarks were deleted or loaded late with old stamps.
    """
    as_of = _naive_utc(as_of)
    published, target = published_schema(wh), staging_schema(wh)
    fp = fingerprint(wh, config)
    path = wh.sql_path("marts/increments/watermarks")
    (marks,) = _query_tuned(wh, path.read_text(encoding="utf-8"))
    stamps = [marks[k] for k in ("invitations_claimed_at", "invitations_sent_at", "invitations_updated_at") if marks[k]]
    plan: dict[str, Any] = {
        "as_of": as_of, "fingerprint": fp, "base": None, "base_built_at": None,
        "responses_loaded_at": marks["responses_loaded_at"], "responses_count": int(marks["responses_count"]),
        "events_loaded_at": marks["events_loaded_at"], "events_count": int(marks["events_count"]),
        "invitations_stamp": max(stamps) if stamps else None, "invitations_count": int(marks["invitations_count"]),
    }
    reason = "a full rebuild was asked for (full_rebuild)" if full_rebuild else None
    if not full_rebuild:
        for base, wanted in ((target, "retired"), (published, "published")):
            refused = _refuse_base(wh, base, wanted, as_of, fp)
            if refused is None:
                prev = build_state(wh, base)
                plan.update(_watermark_params(prev), base=base, prev_as_of=prev["as_of"], base_built_at=prev["built_at"])
                break
            reason = reason or refused  # the staging schema's reason, else the published one's
            if base == target:
                reason = None  # falling back to the published build is no reason for a full rebuild yet
    if plan["base"] is None:
        plan["mode"], plan["reason"] = "full", reason or "no base build"
    else:
        where = "in place" if plan["base"] == target else f"copying the rest from {plan['base']}"
        plan["mode"], plan["reason"] = "incremental", f"changes since the build as of {plan['prev_as_of']} ({where})"
    return plan


def _refuse_base(wh: Warehouse, base: str, wanted: str, as_of: datetime, fp: str) -> str | None:
    """Why the marts in ``base`` cannot be the base of an incremental build (None: they can)."""
    prev = build_state(wh, base)
    status = _build_state(wh, base)["status"]
    if prev is None or status != wanted:
        return f"the build schema {base} has no complete build record (first build, or built before incremental builds)"
    if prev["fingerprint"] != fp:
        return f"the mart logic or the config feeding it changed (fingerprint differs from the build in {base})"
    if as_of < prev["as_of"]:
        return f"as of {as_of} is before the build in {base} ({prev['as_of']})"
    stale = _stale_tables(wh, base)
    if stale:
        return f"the tables {', '.join(stale)} in {base} differ from their definitions (include/sql/marts/<mart>.yml)"
    path = wh.sql_path("marts/increments/unchanged_counts")
    (now,) = _query_tuned(wh, path.read_text(encoding="utf-8"), _watermark_params(prev))
    moved = [k for k in ("responses_count", "events_count", "invitations_count") if int(now[k]) != int(prev[k])]
    if moved:
        return ("rows at or below the base build's watermarks were deleted or loaded with old stamps ("
                + ", ".join(f"{k}: {prev[k]} then, {now[k]} now" for k in moved) + ")")
    return None


def _stale_tables(wh: Warehouse, schema: str) -> list[str]:
    """The sliced marts in ``schema`` whose columns are not their definition's (a table made before
    the definition changed): a build cannot keep or copy their rows."""
    actual: dict[str, list[str]] = {}
    for r in wh.query("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = :s "
                      "ORDER BY table_name, ordinal_position", {"s": schema}):
        actual.setdefault(r["table_name"], []).append(r["column_name"])
    return [doc.mart for doc in definitions(wh) if doc.mart in INCREMENTAL and actual.get(doc.mart) != doc.names]


def _query_tuned(wh: Warehouse, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Rows of one statement on a connection with the build's engine settings: the watermark
    scans read 10M-row tables, and an uncapped DuckDB connection keeps what it read cached."""
    with wh.begin() as conn:
        _tune(wh, conn)
        return [dict(r._mapping) for r in conn.execute(sa.text(sql.rstrip().rstrip(";")), dict(params or {}))]


def _watermark_params(prev: dict[str, Any]) -> dict[str, Any]:
    return {"wm_responses": prev["responses_loaded_at"] or _EPOCH, "wm_events": prev["events_loaded_at"] or _EPOCH,
            "wm_invitations": prev["invitations_stamp"] or _EPOCH}


@holding
def build_staging(wh: Warehouse, as_of: datetime, config: ProgramConfig | None = None, *,
                  full_rebuild: bool = False) -> dict[str, int]:
    """Build every mart into the staging schema as of ``as_of``; returns row counts per mart.

    Incremental when the published build allows it (``plan_build``): the marts of
    ``INCREMENTAL`` recompute only the surveys, periods and accounts touched since the published
    build and carry the rest forward from it; the others are rebuilt in full. ``full_rebuild``
    forces a full rebuild.
    """
    config = config or load_config()
    params = build_params(as_of, config)
    target, source = staging_schema(wh), published_schema(wh)
    keywords = theme_keywords(config)
    tables = {doc.mart: doc for doc in definitions(wh)}
    plan = plan_build(wh, params["as_of"], config, full_rebuild=full_rebuild)
    incremental = plan["mode"] == "incremental"
    base = plan["base"]
    in_place = base == target
    log.info("marts build into %s: %s (%s)", target, plan["mode"], plan["reason"])
    if incremental:
        params.update({k: plan[k] for k in ("wm_responses", "wm_events", "wm_invitations", "prev_as_of")})
        # the base build's look-back windows: what left them since is recomputed (churn risk)
        params["prev_window_start"] = plan["prev_as_of"] - timedelta(days=RISK_WINDOW_DAYS)
        params["prev_cycle_grace_start"] = plan["prev_as_of"] - timedelta(days=CYCLE_GRACE_DAYS)
        params["base"] = base

    def reset_staging(conn) -> None:
        _tune(wh, conn)
        if not wh.is_duckdb:
            # PostgreSQL refuses to drop a table a view reads: repoint a published view that still
            # reads staging (migrations 005 and 030 left some reading both schemas until the next
            # publish). Only those: repointing takes an exclusive lock that every dashboard query waits for.
            for table in _views_reading(wh, conn, target):
                _point_view(wh, conn, table, source)
        for table in MARTS:
            if in_place and table in INCREMENTAL:
                continue  # the base of this build (same definitions: plan_build): only its changed slices are rewritten
            # Recreated from its definition (a changed one included); dropping (not deleting)
            # returns the space at once.
            wh.run_sql(conn, f"DROP TABLE IF EXISTS {target}.{table}")
            wh.run_sql(conn, mart_docs.create_table(tables[table], target))
        for table in (*HELPERS, *_WORKING):
            wh.run_sql(conn, f"DELETE FROM {table}")
        # Until every step has run, staging is not auditable (a half-built schema never is).
        _set_state(wh, conn, target, "building")
        wh.run_sql(conn, "DELETE FROM ops.mart_build_state WHERE build_schema = :s", {"s": target})
        # A few hundred rows at most: plain bound INSERTs (no pandas in the build process). A
        # program without themes has none (an empty executemany would run the INSERT unbound).
        if keywords:
            conn.execute(
                sa.text(
                    "INSERT INTO ops.mart_theme_keywords (theme, locale, keyword, pattern, stem) "
                    "VALUES (:theme, :locale, :keyword, :pattern, :stem)"
                ),
                keywords,
            )

    # A dashboard query still running on the previous build holds the tables being dropped: a
    # short lock wait, retried, instead of an unbounded one (nps.bi.retry_on_lock).
    bi.retry_on_lock(wh, reset_staging, f"resetting the staging schema {target}")
    changed = 0
    risk_all = False
    if incremental:
        started = time.perf_counter()
        with wh.begin() as conn:
            _tune(wh, conn)
            run_mart_sql(wh, conn, "increments/changed_accounts", target, params, base=base)
            run_mart_sql(wh, conn, "increments/changed_roles", target, params, base=base)
            run_mart_sql(wh, conn, "increments/changed_surveys", target, params, incremental=True, base=base)
            # before the fact table changes: in place, these rows are about to be deleted
            run_mart_sql(wh, conn, "increments/old_periods", target, params, base=base)
            if not wh.is_duckdb:
                wh.run_sql(conn, "ANALYZE ops.mart_changed_surveys")
                wh.run_sql(conn, "ANALYZE ops.mart_changed_accounts")
        changed = int(wh.query("SELECT COUNT(*) AS n FROM ops.mart_changed_surveys")[0]["n"])
        log.info("incremental build: %d changed surveys in %.1f s", changed, time.perf_counter() - started)
    # One transaction per step: in one big transaction DuckDB kept much of its memory budget for
    # the uncommitted 10M-row fact table, so every later mart had less and spilled more. Staging is not published until audited, so a build that
    # stops half-way is never seen; the next run rebuilds staging from scratch.
    for step in BUILD_STEPS:
        started = time.perf_counter()
        with wh.begin() as conn:
            _tune(wh, conn)
            if incremental and step in INCREMENTAL:
                kept = run_mart_sql(wh, conn, "increments/carry_forward", target, None, incremental=True,
                                    base=base, mart=step, kind=INCREMENTAL[step], in_place=in_place)
                whole = step == "mart_churn_risk" and risk_all  # every row recomputed: the full SQL
                rows = run_mart_sql(wh, conn, step, target, params, incremental=not whole, base=base)
                if step in _PRUNE_VALUES:
                    run_mart_sql(wh, conn, "increments/prune_values", target, None, mart=step)
                if step == "mart_churn_risk" and not whole:
                    run_mart_sql(wh, conn, "increments/risk_ranks", target, params)
                rows = f"{rows} recomputed, " + (f"{kept} deleted in place" if in_place else f"{kept} copied from {base}")
            else:
                rows = run_mart_sql(wh, conn, step, target, params)
            if incremental and step == "calendar":
                run_mart_sql(wh, conn, "increments/slices", target, params, incremental=True, base=base)
                if not wh.is_duckdb:
                    wh.run_sql(conn, "ANALYZE ops.mart_slices")
                    wh.run_sql(conn, "ANALYZE ops.mart_slice_cells")
            if incremental and step == "account_spans":
                run_mart_sql(wh, conn, "increments/account_slices", target, params, base=base)
                risk, active = conn.execute(sa.text(
                    "SELECT (SELECT COUNT(*) FROM ops.mart_slice_keys WHERE slice = 'risk'), "
                    "(SELECT COUNT(*) FROM ops.mart_account_spans WHERE lost_on IS NULL)")).one()
                risk_all = risk >= RISK_ALL_SHARE * active
                if risk_all:
                    run_mart_sql(wh, conn, "increments/risk_all", target, params, base=base)
                log.info("churn risk: %d accounts touched, %d active (%s)", risk, active,
                         "every row recomputed" if risk_all else "the others keep their rows")
                if not wh.is_duckdb:
                    wh.run_sql(conn, "ANALYZE ops.mart_slice_keys")
                    wh.run_sql(conn, "ANALYZE ops.mart_slices")
            if not wh.is_duckdb and step in _ANALYZE_AFTER:
                table = f"{target}.{step}" if step in MARTS else f"ops.mart_{step}"
                wh.run_sql(conn, f"ANALYZE {table}")
        log.info("built %s.%s: %s rows in %.1f s", target, step, rows, time.perf_counter() - started)
    from nps.clock import utcnow

    with wh.begin() as conn:
        run_mart_sql(wh, conn, "increments/save_state", target, {"build_schema": target},
                     in_place=incremental and in_place)
        state = {k: plan[k] for k in ("as_of", "mode", "reason", "fingerprint", "responses_loaded_at", "responses_count",
                                      "events_loaded_at", "events_count", "invitations_stamp", "invitations_count")}
        conn.execute(
            sa.text(
                "INSERT INTO ops.mart_build_state (build_schema, as_of, mode, reason, fingerprint, responses_loaded_at, "
                "responses_count, events_loaded_at, events_count, invitations_stamp, invitations_count, "
                "changed_surveys, built_at, base_schema, base_built_at) VALUES (:build_schema, :as_of, :mode, :reason, "
                ":fingerprint, :responses_loaded_at, :responses_count, :events_loaded_at, :events_count, "
                ":invitations_stamp, :invitations_count, :changed_surveys, :built_at, :base_schema, :base_built_at)"
            ),
            {**state, "build_schema": target, "changed_surveys": changed, "built_at": utcnow(),
             "base_schema": base, "base_built_at": plan["base_built_at"]},
        )
        _set_state(wh, conn, target, "built", params["as_of"])
    counts = table_counts(wh, target)
    log.info("built marts in %s as of %s (%s): %s", target, params["as_of"], plan["mode"], counts)
    return counts


def _tune(wh: Warehouse, conn) -> None:
    """Per-build engine settings: DuckDB memory cap and unordered inserts; PostgreSQL work_mem."""
    if not wh.is_duckdb:
        # SET LOCAL ends with the transaction; the default 4MB sends every sort to disk.
        work_mem = os.environ.get("NPS_PG_WORK_MEM") or PG_WORK_MEM
        if not work_mem.replace(" ", "").isalnum():
            raise ValueError(f"NPS_PG_WORK_MEM={work_mem!r} is not a size such as 256MB")
        wh.run_sql(conn, f"SET LOCAL work_mem = '{work_mem}'")
        # The incremental steps' slice filters make the planner overestimate their cost by orders
        # of magnitude, so JIT compiled them: 7 s of compiling for 1.6 s of work (mart_nps, 1M
        # answers, one of three such steps). Off for every step, as for dispatch (docs/dispatch.md).
        wh.run_sql(conn, "SET LOCAL jit = off")
        return
    wh.run_sql(conn, f"SET memory_limit = '{duckdb_memory_limit()}'")
    wh.run_sql(conn, "SET preserve_insertion_order = false")


def table_counts(wh: Warehouse, schema: str) -> dict[str, int]:
    """Rows per mart in ``schema`` (staging or published)."""
    union = " UNION ALL ".join(f"SELECT '{t}' AS t, COUNT(*) AS n FROM {schema}.{t}" for t in MARTS)
    return {r["t"]: int(r["n"]) for r in wh.query(union)}


@holding
def audit(wh: Warehouse, config: ProgramConfig | None = None) -> list[str]:
    """Run every audit check on the staging schema; raises MartCheckError on the first failure.

    Returns the checks passed; an empty list when there is no unpublished build to audit (this
    run's build was already published: a rerun).
    """
    config = config or load_config()
    target = staging_schema(wh)
    state = _build_state(wh, target)
    if state["status"] == "building":
        raise StagingIncompleteError(
            f"the build in {target} did not finish (status 'building'); the published marts are untouched: "
            "rerun build_staging (clear it in the Airflow UI), then this task"
        )
    if state["status"] not in ("built", "audited"):
        log.info("no unpublished build to audit (%s is %s)", target, state["status"])
        return []
    params = build_params(state["as_of"], config)
    built = build_state(wh, target)
    # The rows an incremental build kept from its base build were audited when it was published:
    # the fact-table checks then look at the recomputed surveys and the carried-over counts.
    incremental = bool(built and built["mode"] == "incremental")
    passed = []
    # One connection with the build's engine settings: the checks scan the 10M-row fact table,
    # and a fresh DuckDB connection would run them without the memory cap (peak RSS > 1 GB).
    with wh.begin() as conn:
        _tune(wh, conn)

        def run(check: str) -> None:
            started = time.perf_counter()
            path = wh.sql_path(f"marts/checks/{check}")
            text = render_mart_sql(path, incremental=incremental).replace(STAGING_TOKEN, f"{target}.")
            (stmt,) = split_statements(text)
            stmt = stmt.rstrip().rstrip(";")
            sql = f"SELECT * FROM ({stmt}) AS offending LIMIT {_EXAMPLES}"
            examples = [dict(r._mapping) for r in conn.execute(sa.text(sql), params)]
            if examples:
                sql = f"SELECT COUNT(*) FROM ({stmt}) AS offending"
                count = int(conn.execute(sa.text(sql), params).scalar())
                log.error("mart audit check %s failed on %s with %d offending row(s)", check, target, count)
                raise MartCheckError(check, count, examples)
            log.info("mart audit check %s passed in %.1f s", check, time.perf_counter() - started)

        for check in CHECKS:
            if check in IMPLIED_BY and all(c in passed for c in IMPLIED_BY[check]):
                log.info("mart audit check %s passes by implication (%s passed)", check, ", ".join(IMPLIED_BY[check]))
            else:
                try:
                    run(check)
                except MartCheckError:
                    for implied in (k for k, v in IMPLIED_BY.items() if check in v and k not in passed):
                        run(implied)  # raises the more specific error when it finds rows
                    raise
            passed.append(check)
        _set_state(wh, conn, target, "audited")
    log.info("mart audit of %s passed: %s", target, ", ".join(passed))
    return passed


#: Sliced marts large enough that the BI snapshot replaces only their recomputed rows (the others,
#: a few thousand rows each, are copied whole).
SNAPSHOT_DELTA: tuple[str, ...] = ("fct_survey_responses", "mart_account_nps", "fct_comment_themes")


def snapshot_changes(wh: Warehouse) -> bi.SnapshotChanges | None:
    """What the BI snapshot needs to follow the published build in place, or None (copy it whole).

    Only for an in-place incremental build (its schema's previous build was its base) whose
    working tables (ops.mart_changed_surveys, ops.mart_slices, ...) are still this build's: no
    later build has started in the other schema since it was published.
    """
    schema = published_schema(wh)
    state = build_state(wh, schema)
    if state is None or state["mode"] != "incremental" or state.get("base_schema") != schema:
        return None
    if _build_state(wh, staging_schema(wh))["status"] != "retired":
        return None  # a later build has started: the working tables are no longer this build's
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(wh.sql_dir / "marts")),
                             undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701 - SQL from the repository
    macro = env.from_string("{% import '_incremental_macros.sql.j2' as inc %}{{ inc.recomputed('t', kind) }}")
    recomputed = {table: macro.render(kind=INCREMENTAL[table]) for table in SNAPSHOT_DELTA}
    return bi.SnapshotChanges(schema=schema, base_built_at=state["base_built_at"], built_at=state["built_at"],
                              recomputed=recomputed)


@holding
def publish(wh: Warehouse) -> dict[str, int]:
    """Point every ``marts`` view at the audited staging schema, in one transaction."""
    target, current = staging_schema(wh), published_schema(wh)
    state = _build_state(wh, target)
    if state["status"] != "audited":
        log.info("nothing to publish (%s is %s); marts stay on %s", target, state["status"], current)
        bi.export_for_readers(wh, MARTS, snapshot_changes(wh))  # a rerun after a failed export writes it
        return table_counts(wh, PUBLISHED)
    def repoint(conn) -> None:
        for table in MARTS:
            _point_view(wh, conn, table, target)
        apply_comments(wh, conn)
        _set_state(wh, conn, current, "retired")
        _set_state(wh, conn, target, "published")

    # On PostgreSQL each attempt waits at most lock_timeout behind a dashboard query (and new
    # dashboard queries wait at most that long behind it); a refused lock is retried with backoff.
    bi.retry_on_lock(wh, repoint, f"publishing the marts of {target}")
    counts = table_counts(wh, PUBLISHED)
    log.info("published marts from %s (as of %s): %s", target, state["as_of"], counts)
    bi.export_for_readers(wh, MARTS, snapshot_changes(wh))
    return counts


def apply_comments(wh: Warehouse, conn) -> None:
    """The marts' table and column comments, from their YAML files (``nps.mart_docs``);
    re-applied on every publish because DuckDB drops a view's comments when the view is replaced."""
    for i, stmt in enumerate(mart_docs.comment_statements(definitions(wh)), 1):
        try:
            conn.exec_driver_sql(stmt)  # no bind parameters: a colon in the text stays text
        except Exception as err:  # noqa: BLE001
            reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
            raise WarehouseError(f"comment {i} from include/sql/marts/*.yml failed on {wh.dialect}: {reason}") from err


def _views_reading(wh: Warehouse, conn, schema: str) -> list[str]:
    """The published views (PostgreSQL) that read a table of ``schema``."""
    rows = conn.execute(
        sa.text(
            "SELECT DISTINCT view_name FROM information_schema.view_table_usage "
            "WHERE view_schema = :p AND table_schema = :s"
        ),
        {"p": PUBLISHED, "s": schema},
    )
    return sorted(r[0] for r in rows)


@holding
def rebuild(wh: Warehouse, as_of: datetime, config: ProgramConfig | None = None, *,
            full_rebuild: bool = False) -> dict[str, int]:
    """Build (incrementally when it can), audit and publish every mart as of ``as_of``;
    returns published row counts."""
    config = config or load_config()
    build_staging(wh, as_of, config, full_rebuild=full_rebuild)
    audit(wh, config)
    return publish(wh)
