-- Closing the loop (issue 10): follow-up decisions, cases and their history.
-- Runs on DuckDB and PostgreSQL. All timestamps are UTC, stored without a time zone.

-- ops.followup_decisions: one row per counted answer (grain: survey_id): what the program did
-- about the survey's latest answer. Until the follow-up is sent the latest answer wins (the row
-- is decided again when the answer changes); once sent, the row keeps its template, status and
-- sent time, takes the latest answer's score and category, and counts the answers that changed
-- afterwards (they update the case, never send a second email).
-- status: pending (to send once the answer settles), sent, suppressed, not_needed, failed;
-- reason says why in words a person can act on.
CREATE TABLE ops.followup_decisions (
    survey_id          VARCHAR PRIMARY KEY,
    response_id        VARCHAR NOT NULL,   -- the answer decided on (for sent rows: the one answered)
    survey_type        VARCHAR NOT NULL,
    score              INTEGER NOT NULL,
    category           VARCHAR NOT NULL,   -- promoter, passive, detractor, satisfied, ... (as the fact table)
    responded_at       TIMESTAMP NOT NULL,
    contact_id         VARCHAR NOT NULL,
    account_id         VARCHAR NOT NULL,
    locale             VARCHAR NOT NULL,
    rule               VARCHAR NOT NULL,   -- <survey type>.<category>, the config rule applied
    template           VARCHAR,            -- the email template sent or to send; NULL: no email
    referral_ask       BOOLEAN NOT NULL,   -- the template asks a promoter to refer
    status             VARCHAR NOT NULL,
    reason             VARCHAR NOT NULL,
    send_key           VARCHAR,            -- followup/<survey_id> in the send ledger
    due_at             TIMESTAMP NOT NULL, -- responded_at + followups.respond_within_hours
    decided_at         TIMESTAMP NOT NULL, -- first decision about this survey
    updated_at         TIMESTAMP NOT NULL,
    sent_at            TIMESTAMP,
    changed_after_send INTEGER NOT NULL,   -- answers that changed after the email went out
    run_id             VARCHAR NOT NULL
);

-- ops.followup_cases: one row per case (grain: case_id = 'case/' || survey_id): an answer whose
-- rule opens a case for the account owner (detractors, dissatisfied, high effort).
-- status: open -> in_progress -> resolved (forward only; a resolved case may be reopened by a
-- case file, which is recorded). due_at is the SLA deadline on the SLA clock (weekends skipped in
-- followups.timezone when configured); escalation_level counts the levels reached (0 = none).
CREATE TABLE ops.followup_cases (
    case_id           VARCHAR PRIMARY KEY,
    survey_id         VARCHAR NOT NULL UNIQUE,
    account_id        VARCHAR NOT NULL,
    contact_id        VARCHAR NOT NULL,
    owner_name        VARCHAR,
    owner_email       VARCHAR,
    survey_type       VARCHAR NOT NULL,
    score             INTEGER NOT NULL,
    category          VARCHAR NOT NULL,
    comment           VARCHAR,
    status            VARCHAR NOT NULL,
    opened_at         TIMESTAMP NOT NULL,
    due_at            TIMESTAMP NOT NULL,
    escalation_level  INTEGER NOT NULL,
    escalated_at      TIMESTAMP,
    owner_alerted_at  TIMESTAMP,
    owner_alert_key   VARCHAR,            -- the send key of the alert that tells the owner (alert/...)
    first_action_at   TIMESTAMP,          -- first move out of open (the SLA is met when <= due_at)
    resolved_at       TIMESTAMP,
    resolution        VARCHAR,
    updated_at        TIMESTAMP NOT NULL
);

-- ops.followup_case_history: every change of a case, in order (grain: case_id + seq).
-- event: opened, answer_changed, owner_alerted, escalated, status (a case file or a person),
-- reopened. source names the run, or the case file and its row.
CREATE TABLE ops.followup_case_history (
    case_id      VARCHAR NOT NULL,
    seq          INTEGER NOT NULL,
    happened_at  TIMESTAMP NOT NULL,
    event        VARCHAR NOT NULL,
    from_status  VARCHAR,
    to_status    VARCHAR,
    detail       VARCHAR,
    source       VARCHAR NOT NULL,
    PRIMARY KEY (case_id, seq)
);

-- ops.followup_decisions_stage: one attempt's new decisions before they replace the old ones
-- (grain: stage_id + survey_id); emptied by the attempt that wrote it.
CREATE TABLE ops.followup_decisions_stage (
    stage_id           VARCHAR NOT NULL,
    survey_id          VARCHAR NOT NULL,
    response_id        VARCHAR NOT NULL,
    survey_type        VARCHAR NOT NULL,
    score              INTEGER NOT NULL,
    category           VARCHAR NOT NULL,
    responded_at       TIMESTAMP NOT NULL,
    contact_id         VARCHAR NOT NULL,
    account_id         VARCHAR NOT NULL,
    locale             VARCHAR NOT NULL,
    rule               VARCHAR NOT NULL,
    template           VARCHAR,
    referral_ask       BOOLEAN NOT NULL,
    status             VARCHAR NOT NULL,
    reason             VARCHAR NOT NULL,
    send_key           VARCHAR,
    due_at             TIMESTAMP NOT NULL,
    decided_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL,
    sent_at            TIMESTAMP,
    changed_after_send INTEGER NOT NULL,
    run_id             VARCHAR NOT NULL,
    PRIMARY KEY (stage_id, survey_id)
);
