-- Incremental marts (issue 16): what the next build compares against to slice the marts that
-- read contract spans, contacts' roles and the look-back windows. Runs on DuckDB and PostgreSQL.

-- ops.mart_build_spans: the contract spans (ops.mart_account_spans) each build schema's marts
-- were built with: an account whose span differs now (a contract started, ended or was edited,
-- or its end passed since the base build's as_of) reopens the retention periods from its
-- earliest changed day on, and its churn-risk row.
CREATE TABLE ops.mart_build_spans (
    build_schema VARCHAR NOT NULL,
    account_id   VARCHAR NOT NULL,
    first_start  DATE,
    lost_on      DATE
);

-- ops.mart_build_roles: each contact's role as the build schema's fact table shows it: a
-- contact whose role differs now (or who was deleted) has every answer recomputed. A
-- contacts-sized comparison instead of joining the whole fact table to src.contacts.
CREATE TABLE ops.mart_build_roles (
    build_schema VARCHAR NOT NULL,
    contact_id   VARCHAR NOT NULL,
    role         VARCHAR
);

-- Working tables of one incremental build (emptied at its start): the accounts whose
-- mart_churn_risk row is recomputed (slice 'risk'), the contacts whose role changed ('role') and
-- the accounts whose contract span changed ('span'); and the (month or quarter, account) cells
-- of mart_account_nps that the changed NPS answers fall in, before or after the change.
CREATE TABLE ops.mart_slice_keys (
    slice VARCHAR NOT NULL,
    key   VARCHAR NOT NULL
);
CREATE TABLE ops.mart_slice_cells (
    period_grain VARCHAR NOT NULL,
    period_start DATE NOT NULL,
    account_id   VARCHAR NOT NULL
);
