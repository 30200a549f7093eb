-- ops.message_ledger: the exactly-once ledger of every email that is not a survey invitation
-- (KPI reports; follow-ups, owner alerts, escalations and digests as they come). One row per
-- send key; the same protocol as the invitations' ledger (nps.ledger, nps.dispatch):
--   claimed --committed before the request--> sending --accepted--> sent
--                                                 | 429/5xx ------> claimed   (sent again)
--                                                 | 4xx payload --> failed    (a rerun after a fix retries)
--                                                 ` crash/timeout > sending   (reconciled from evidence)
-- Invitations keep ops.survey_invitations (it is also the cohort's record); both share the lock,
-- the states and the reconciliation rules. Runs on DuckDB and PostgreSQL.
CREATE TABLE ops.message_ledger (
    send_key       VARCHAR PRIMARY KEY,   -- e.g. report/monthly/2026-09/all/<recipient hash>
    kind           VARCHAR NOT NULL,      -- report, followup, alert, escalation, digest
    scope          VARCHAR NOT NULL,      -- what one send_once call covers, e.g. report/monthly/2026-09
    recipient_hash VARCHAR NOT NULL,      -- sha256 of the lower-cased address, 16 hex digits (no address stored)
    status         VARCHAR NOT NULL,      -- claimed, sending, sent, failed
    run_id         VARCHAR NOT NULL,      -- the Airflow run that last claimed the row
    claimed_at     TIMESTAMP NOT NULL,
    transport      VARCHAR,
    folder         VARCHAR,               -- the transport folder (outbox evidence lives there)
    batch_id       VARCHAR,
    attempt_at     TIMESTAMP,
    attempts       INTEGER NOT NULL,
    sent_at        TIMESTAMP,
    sends          INTEGER NOT NULL,      -- how many times it was accepted (2+ only with resend)
    message_id     VARCHAR,
    error          VARCHAR
);

-- ops.message_ledger_stage: the send keys of one send_once call on their way into the ledger
-- (set-based claiming; rows of a call are dropped when it has claimed them).
CREATE TABLE ops.message_ledger_stage (
    stage_id       VARCHAR NOT NULL,
    send_key       VARCHAR NOT NULL,
    kind           VARCHAR NOT NULL,
    scope          VARCHAR NOT NULL,
    recipient_hash VARCHAR NOT NULL
);

CREATE INDEX message_ledger_scope ON ops.message_ledger (scope);
