-- Incremental marts (issue 16): what the next build compares against to find what changed.
-- Runs on DuckDB and PostgreSQL. One row (or row set) per build schema, written when a build
-- of that schema finishes; the published schema's rows describe the last published build.

-- ops.mart_build_state: per build schema, how its marts were built (full or incremental), the
-- fingerprint of the mart logic and the config that feeds it, and the watermarks of the sources:
-- the latest loaded_at of the answers and email events, the latest ledger change stamp
-- (claimed, sent or delivery update), and how many rows lay at or below each watermark (a
-- later count that differs means rows were back-dated or deleted: the next build is full).
CREATE TABLE ops.mart_build_state (
    build_schema          VARCHAR PRIMARY KEY,
    as_of                 TIMESTAMP NOT NULL,
    mode                  VARCHAR NOT NULL,       -- full, incremental
    reason                VARCHAR NOT NULL,       -- why this mode (e.g. 'fingerprint changed')
    fingerprint           VARCHAR NOT NULL,       -- sha256 of the rendered mart SQL and the config parts
    responses_loaded_at   TIMESTAMP,
    responses_count       BIGINT NOT NULL,
    events_loaded_at      TIMESTAMP,
    events_count          BIGINT NOT NULL,
    invitations_stamp     TIMESTAMP,
    invitations_count     BIGINT NOT NULL,
    changed_surveys       BIGINT NOT NULL,        -- incremental: surveys recomputed (full: 0)
    built_at              TIMESTAMP NOT NULL
);

-- ops.mart_build_accounts: the account attributes each build schema's marts were built with
-- (an account whose row differs now, or that appeared or vanished, is rebuilt in every slice).
CREATE TABLE ops.mart_build_accounts (
    build_schema VARCHAR NOT NULL,
    account_id   VARCHAR NOT NULL,
    name         VARCHAR,
    industry     VARCHAR,
    segment      VARCHAR,
    region       VARCHAR,
    arr          DECIMAL(14, 2),
    owner_name   VARCHAR
);

-- ops.mart_build_calendar: the calendar each build schema's marts were built over.
CREATE TABLE ops.mart_build_calendar (
    build_schema VARCHAR NOT NULL,
    period_grain VARCHAR NOT NULL,
    period_start DATE NOT NULL
);

-- Working tables of one incremental build (emptied at its start): the surveys whose fact row is
-- recomputed, the accounts whose attributes changed, and the period slices each mart rebuilds
-- (slice: score_out / score_in for the score marts, account, rates).
CREATE TABLE ops.mart_changed_surveys (survey_id VARCHAR NOT NULL);
CREATE TABLE ops.mart_changed_accounts (account_id VARCHAR NOT NULL);
CREATE TABLE ops.mart_slices (
    slice        VARCHAR NOT NULL,
    period_grain VARCHAR NOT NULL,
    period_start DATE NOT NULL
);
