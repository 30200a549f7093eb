-- Dispatch schema: the cohort of each run (by data interval) and the send-ledger columns that
-- make sending exactly-once (claimed -> sending -> sent). Runs on DuckDB and PostgreSQL.

-- The ledger learns which interval claimed a row, the day it counts for (fatigue, account cap),
-- which batch was in flight and when, how many attempts were made and the last error.
-- status gains: sending (handed to the transport, outcome uncertain until confirmed).
ALTER TABLE ops.survey_invitations ADD COLUMN interval_start TIMESTAMP;
ALTER TABLE ops.survey_invitations ADD COLUMN cohort_date DATE;
ALTER TABLE ops.survey_invitations ADD COLUMN batch_id VARCHAR;
ALTER TABLE ops.survey_invitations ADD COLUMN attempt_at TIMESTAMP;
ALTER TABLE ops.survey_invitations ADD COLUMN attempts INTEGER;
ALTER TABLE ops.survey_invitations ADD COLUMN error VARCHAR;

-- ops.cohort_days: the calendar of one run, one row per (interval, industry, day): the
-- relationship cycle that day falls in, the day's slot in it and the fatigue windows around it.
CREATE TABLE ops.cohort_days (
    interval_start      TIMESTAMP NOT NULL,
    industry            VARCHAR NOT NULL,
    day                 DATE NOT NULL,
    cadence             VARCHAR NOT NULL,
    cycle               VARCHAR NOT NULL,
    cycle_start         DATE NOT NULL,
    cycle_end           DATE NOT NULL,      -- exclusive
    cycle_days          INTEGER NOT NULL,
    day_index           INTEGER NOT NULL,   -- 0 .. cycle_days - 1
    relationship_survey VARCHAR NOT NULL,
    rel_lo              DATE NOT NULL,      -- a relationship survey on [rel_lo, rel_hi] blocks one today
    rel_hi              DATE NOT NULL,
    tx_lo               DATE NOT NULL,      -- likewise for transactional surveys
    tx_hi               DATE NOT NULL,
    any_lo              DATE NOT NULL,      -- likewise for any survey
    any_hi              DATE NOT NULL,
    PRIMARY KEY (interval_start, industry, day)
);

-- ops.cohort_rules: the touchpoint rules of one run, one row per (interval, industry,
-- touchpoint, day): events in [window_start, window_end) are surveyed on that day.
CREATE TABLE ops.cohort_rules (
    interval_start TIMESTAMP NOT NULL,
    industry       VARCHAR NOT NULL,
    touchpoint     VARCHAR NOT NULL,
    day            DATE NOT NULL,
    survey_type    VARCHAR NOT NULL,
    delay_days     INTEGER NOT NULL,
    window_start   TIMESTAMP NOT NULL,
    window_end     TIMESTAMP NOT NULL,
    PRIMARY KEY (interval_start, industry, touchpoint, day)
);

-- ops.cohort_candidates: everyone due a survey in a run, one row per (interval, contact,
-- program), with the reason it was excluded or 'selected'. The cohort is the selected rows.
CREATE TABLE ops.cohort_candidates (
    interval_start      TIMESTAMP NOT NULL,
    interval_end        TIMESTAMP NOT NULL,
    run_id              VARCHAR NOT NULL,
    send_key            VARCHAR NOT NULL,
    survey_id           VARCHAR NOT NULL,
    program             VARCHAR NOT NULL,   -- relationship, transactional
    survey_type         VARCHAR NOT NULL,
    touchpoint          VARCHAR,
    touchpoint_event_id VARCHAR,
    contact_id          VARCHAR NOT NULL,
    account_id          VARCHAR NOT NULL,
    industry            VARCHAR NOT NULL,
    role                VARCHAR NOT NULL,
    locale              VARCHAR NOT NULL,
    cycle               VARCHAR NOT NULL,
    cycle_start         DATE NOT NULL,
    cycle_end           DATE NOT NULL,
    cohort_date         DATE NOT NULL,
    reason              VARCHAR,            -- churned, no_consent, suppressed, fatigue, relationship_wins, account_cap, selected
    PRIMARY KEY (interval_start, send_key)
);

-- ops.cohort_runs: one row per data interval: the exclusion counts by reason.
-- due = churned + no_consent + suppressed + fatigue + relationship_wins + account_cap + selected.
CREATE TABLE ops.cohort_runs (
    interval_start     TIMESTAMP PRIMARY KEY,
    interval_end       TIMESTAMP NOT NULL,
    run_id             VARCHAR NOT NULL,
    selected_at        TIMESTAMP NOT NULL,
    due                INTEGER NOT NULL,
    due_relationship   INTEGER NOT NULL,
    due_transactional  INTEGER NOT NULL,
    churned            INTEGER NOT NULL,
    no_consent         INTEGER NOT NULL,
    suppressed         INTEGER NOT NULL,
    fatigue            INTEGER NOT NULL,
    relationship_wins  INTEGER NOT NULL,
    account_cap        INTEGER NOT NULL,
    selected           INTEGER NOT NULL
);

-- ops.dispatch_batches: the send plan of a run, one row per invitation: which batch
-- (one template + locale, at most batch_size recipients, each address once) it travels in.
CREATE TABLE ops.dispatch_batches (
    batch_id       VARCHAR NOT NULL,
    send_key       VARCHAR NOT NULL,
    interval_start TIMESTAMP NOT NULL,
    PRIMARY KEY (batch_id, send_key)
);
