-- Closing-the-loop marts (issue 10): marts.mart_followups and marts.mart_loop_recovery, built
-- blue/green like every mart (migration 004). Runs on DuckDB and PostgreSQL.

-- marts.mart_followups: one row per counted answer's follow-up decision (grain: survey_id).
CREATE TABLE marts_blue.mart_followups (
    as_of               TIMESTAMP NOT NULL,
    survey_id           VARCHAR NOT NULL,
    survey_type         VARCHAR NOT NULL,
    score               INTEGER NOT NULL,
    category            VARCHAR NOT NULL,
    rule                VARCHAR NOT NULL,
    template            VARCHAR,
    referral_ask        BOOLEAN NOT NULL,
    status              VARCHAR NOT NULL,
    reason              VARCHAR NOT NULL,
    responded_at        TIMESTAMP NOT NULL,
    response_date       DATE NOT NULL,
    due_at              TIMESTAMP NOT NULL,
    sent_at             TIMESTAMP,
    hours_to_followup   DECIMAL(12, 2),
    followup_on_time    BOOLEAN,
    changed_after_send  INTEGER NOT NULL,
    account_id          VARCHAR NOT NULL,
    account_name        VARCHAR,
    industry            VARCHAR,
    segment             VARCHAR,
    region              VARCHAR,
    owner_name          VARCHAR,
    contact_id          VARCHAR NOT NULL,
    locale              VARCHAR,
    case_id             VARCHAR,
    case_status         VARCHAR
);

-- marts.mart_loop_recovery: one row per case (grain: case_id): the SLA, the time to act and to
-- resolve, and whether the contact's next answer of the same survey type recovered.
CREATE TABLE marts_blue.mart_loop_recovery (
    as_of                  TIMESTAMP NOT NULL,
    case_id                VARCHAR NOT NULL,
    survey_id              VARCHAR NOT NULL,
    survey_type            VARCHAR NOT NULL,
    score                  INTEGER NOT NULL,
    category               VARCHAR NOT NULL,
    status                 VARCHAR NOT NULL,
    account_id             VARCHAR NOT NULL,
    account_name           VARCHAR,
    industry               VARCHAR,
    segment                VARCHAR,
    owner_name             VARCHAR,
    arr                    DECIMAL(14, 2),
    contact_id             VARCHAR NOT NULL,
    opened_at              TIMESTAMP NOT NULL,
    opened_date            DATE NOT NULL,
    due_at                 TIMESTAMP NOT NULL,
    first_action_at        TIMESTAMP,
    resolved_at            TIMESTAMP,
    escalation_level       INTEGER NOT NULL,
    sla_met                BOOLEAN,
    overdue                BOOLEAN NOT NULL,
    hours_to_first_action  DECIMAL(12, 2),
    hours_to_resolution    DECIMAL(12, 2),
    next_responded_at      TIMESTAMP,
    next_score             INTEGER,
    next_category          VARCHAR,
    recovered              BOOLEAN
);

CREATE TABLE marts_green.mart_followups AS SELECT * FROM marts_blue.mart_followups WHERE 1 = 0;
CREATE TABLE marts_green.mart_loop_recovery AS SELECT * FROM marts_blue.mart_loop_recovery WHERE 1 = 0;
CREATE VIEW marts.mart_followups AS SELECT * FROM marts_blue.mart_followups;
CREATE VIEW marts.mart_loop_recovery AS SELECT * FROM marts_blue.mart_loop_recovery;
