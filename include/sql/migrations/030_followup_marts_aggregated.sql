-- 030: the closing-the-loop marts become aggregates (issue 10). The per-answer detail that
-- marts.mart_followups held moves, with each case's SLA and next answer (marts.mart_loop_recovery
-- held those per case), into the fact table marts.fct_followups (grain: survey_id);
-- marts.mart_followups and marts.mart_loop_recovery are now the aggregates BI reads.
-- PostgreSQL will not drop a table a view reads, so the views go first. They come back reading
-- whichever build schema is published (ops.mart_builds); the next publish replaces them with the
-- usual plain views and applies the comments of include/sql/marts/*.yml.
DROP VIEW IF EXISTS marts.mart_followups;
DROP VIEW IF EXISTS marts.mart_loop_recovery;
DROP TABLE IF EXISTS marts_blue.mart_followups;
DROP TABLE IF EXISTS marts_green.mart_followups;
DROP TABLE IF EXISTS marts_blue.mart_loop_recovery;
DROP TABLE IF EXISTS marts_green.mart_loop_recovery;

-- marts.fct_followups: one row per counted answer's follow-up decision (grain: survey_id).
CREATE TABLE marts_blue.fct_followups (
    as_of                   TIMESTAMP NOT NULL,
    survey_id               VARCHAR NOT NULL,
    survey_type             VARCHAR NOT NULL,
    score                   INTEGER NOT NULL,
    category                VARCHAR NOT NULL,
    rule                    VARCHAR NOT NULL,
    template                VARCHAR,
    referral_ask            BOOLEAN NOT NULL,
    status                  VARCHAR NOT NULL,
    reason                  VARCHAR NOT NULL,
    responded_at            TIMESTAMP NOT NULL,
    response_date           DATE NOT NULL,
    email_due_at            TIMESTAMP NOT NULL,
    sent_at                 TIMESTAMP,
    changed_after_send      INTEGER NOT NULL,
    account_id              VARCHAR NOT NULL,
    account_name            VARCHAR,
    industry                VARCHAR,
    segment                 VARCHAR,
    region                  VARCHAR,
    owner_name              VARCHAR,
    arr                     DECIMAL(14, 2),
    contact_id              VARCHAR NOT NULL,
    locale                  VARCHAR,
    case_id                 VARCHAR,
    case_status             VARCHAR,
    case_opened_at          TIMESTAMP,
    case_due_at             TIMESTAMP,
    case_first_action_at    TIMESTAMP,
    case_resolved_at        TIMESTAMP,
    escalation_level        INTEGER,
    case_overdue            BOOLEAN,
    needs_followup          BOOLEAN NOT NULL,
    first_response_at       TIMESTAMP,
    response_due_at         TIMESTAMP,
    within_sla              BOOLEAN,
    hours_to_first_response DECIMAL(12, 2),
    next_responded_at       TIMESTAMP,
    next_score              INTEGER,
    next_category           VARCHAR,
    recovered               BOOLEAN
);

-- marts.mart_followups: per (period_grain, period_start, survey_type, category, owner_name, industry).
CREATE TABLE marts_blue.mart_followups (
    period_grain                   VARCHAR NOT NULL,
    period_start                   DATE NOT NULL,
    period_end                     DATE NOT NULL,
    survey_type                    VARCHAR NOT NULL,
    category                       VARCHAR NOT NULL,
    owner_name                     VARCHAR NOT NULL,
    industry                       VARCHAR NOT NULL,
    answers                        BIGINT NOT NULL,
    needing_followup               BIGINT NOT NULL,
    followed_up                    BIGINT NOT NULL,
    sla_measured                   BIGINT NOT NULL,
    within_sla                     BIGINT NOT NULL,
    within_sla_pct                 DECIMAL(9, 2),
    median_hours_to_first_response DECIMAL(12, 2),
    p90_hours_to_first_response    DECIMAL(12, 2),
    emails_sent                    BIGINT NOT NULL,
    cases_opened                   BIGINT NOT NULL,
    cases_sla_measured             BIGINT NOT NULL,
    cases_within_sla               BIGINT NOT NULL,
    cases_open                     BIGINT NOT NULL,
    cases_overdue                  BIGINT NOT NULL,
    cases_escalated                BIGINT NOT NULL
);

-- marts.mart_loop_recovery: per (period_grain, period_start, survey_type, contacted_within_sla).
CREATE TABLE marts_blue.mart_loop_recovery (
    period_grain           VARCHAR NOT NULL,
    period_start           DATE NOT NULL,
    period_end             DATE NOT NULL,
    survey_type            VARCHAR NOT NULL,
    contacted_within_sla   BOOLEAN NOT NULL,
    cases                  BIGINT NOT NULL,
    with_next_answer       BIGINT NOT NULL,
    next_positive          BIGINT NOT NULL,
    next_neutral           BIGINT NOT NULL,
    next_negative          BIGINT NOT NULL,
    recovered              BIGINT NOT NULL,
    recovered_pct          DECIMAL(9, 2),
    next_positive_pct      DECIMAL(9, 2),
    mean_case_score        DECIMAL(9, 2),
    mean_next_score        DECIMAL(9, 2)
);

CREATE TABLE marts_green.fct_followups AS SELECT * FROM marts_blue.fct_followups WHERE 1 = 0;
CREATE TABLE marts_green.mart_followups AS SELECT * FROM marts_blue.mart_followups WHERE 1 = 0;
CREATE TABLE marts_green.mart_loop_recovery AS SELECT * FROM marts_blue.mart_loop_recovery WHERE 1 = 0;

CREATE VIEW marts.fct_followups AS
SELECT * FROM marts_blue.fct_followups
WHERE (SELECT status FROM ops.mart_builds WHERE build_schema = 'marts_blue') = 'published'
UNION ALL
SELECT * FROM marts_green.fct_followups
WHERE (SELECT status FROM ops.mart_builds WHERE build_schema = 'marts_green') = 'published';
CREATE VIEW marts.mart_followups AS
SELECT * FROM marts_blue.mart_followups
WHERE (SELECT status FROM ops.mart_builds WHERE build_schema = 'marts_blue') = 'published'
UNION ALL
SELECT * FROM marts_green.mart_followups
WHERE (SELECT status FROM ops.mart_builds WHERE build_schema = 'marts_green') = 'published';
CREATE VIEW marts.mart_loop_recovery AS
SELECT * FROM marts_blue.mart_loop_recovery
WHERE (SELECT status FROM ops.mart_builds WHERE build_schema = 'marts_blue') = 'published'
UNION ALL
SELECT * FROM marts_green.mart_loop_recovery
WHERE (SELECT status FROM ops.mart_builds WHERE build_schema = 'marts_green') = 'published';
