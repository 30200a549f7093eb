-- Marts (issue 5): the published, documented marts that BI tools and reports read.
-- Runs on DuckDB and PostgreSQL. Percentages are 0..100, NPS is -100..100, all times UTC.
--
-- Blue/green: every mart exists as a table in two build schemas, marts_blue and marts_green, and
-- as a view marts.<mart> over the one that is published. nps.marts builds the marts into the
-- other schema (the staging schema of that build), audits it, and publishes it by repointing the
-- views in one transaction, so a 10M-row fact table is written once per build and readers see the
-- old marts or the new ones, never a mix. ops.mart_builds records which schema is where.
--
-- The mart tables and views are not created here any more: each mart's table is defined once, in
-- include/sql/marts/<mart>.yml (columns, types, NOT NULL, comments), and nps.marts.ensure_tables
-- creates the missing ones after the migrations (Warehouse.migrate); every build recreates its
-- staging schema's tables from the definitions. Warehouses that ran the hand-written DDL this
-- migration (with 005, 011 and 030) used to hold keep those tables (the same columns and types)
-- until builds recreate them from the definitions.

CREATE SCHEMA IF NOT EXISTS marts;
CREATE SCHEMA IF NOT EXISTS marts_blue;
CREATE SCHEMA IF NOT EXISTS marts_green;

-- ops.mart_builds: one row per build schema: its status (building, built, audited, published,
-- retired), the instant its marts were built as of, and when the status last changed.
CREATE TABLE ops.mart_builds (
    build_schema VARCHAR PRIMARY KEY,
    status       VARCHAR NOT NULL,
    as_of        TIMESTAMP,
    updated_at   TIMESTAMP NOT NULL
);
INSERT INTO ops.mart_builds (build_schema, status, as_of, updated_at)
VALUES ('marts_blue', 'published', NULL, CAST(CURRENT_TIMESTAMP AS TIMESTAMP)),
       ('marts_green', 'retired', NULL, CAST(CURRENT_TIMESTAMP AS TIMESTAMP));

-- ops.mart_theme_keywords: the comment-theme taxonomy of include/config/program.yaml,
-- one row per (theme, locale, keyword), reloaded from the config on every build.
CREATE TABLE ops.mart_theme_keywords (
    theme    VARCHAR NOT NULL,
    locale   VARCHAR NOT NULL,
    keyword  VARCHAR NOT NULL,
    pattern  VARCHAR NOT NULL,      -- LIKE pattern matching the keyword at the start of a word
    stem     VARCHAR NOT NULL       -- its first 2 characters: candidates are found by equi-join
);

-- ops.mart_calendar: the periods every mart reports, one row per (period_grain, period_start).
CREATE TABLE ops.mart_calendar (
    period_grain VARCHAR NOT NULL,
    period_start DATE NOT NULL,
    period_end   DATE NOT NULL
);

-- ops.mart_account_spans: one row per account that has contracts: the first day it was a
-- customer and the day its last contract ended (NULL while a contract runs), with its ARR.
-- An account is a customer on day D when first_start <= D and (lost_on IS NULL or lost_on > D).
CREATE TABLE ops.mart_account_spans (
    account_id  VARCHAR NOT NULL,
    first_start DATE NOT NULL,
    lost_on     DATE,
    arr         DECIMAL(14, 2)
);
