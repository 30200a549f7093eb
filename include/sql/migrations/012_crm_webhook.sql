-- The CRM webhook's ledger (issue 10): one row per case event posted to the CRM (grain:
-- event_key = case/<case_id>/<history seq>), so every event is delivered once: claimed from
-- ops.followup_case_history, sent, or failed with the reason (a rerun after the fix retries).
-- A request whose answer never came stays 'sending' and is posted again with the same event key
-- (the X-NPS-Event-Key header), which the CRM deduplicates on. Runs on DuckDB and PostgreSQL.
CREATE TABLE ops.crm_webhook_events (
    event_key       VARCHAR PRIMARY KEY,
    case_id         VARCHAR NOT NULL,
    seq             INTEGER NOT NULL,
    status          VARCHAR NOT NULL,   -- pending, sending, sent, failed
    attempts        INTEGER NOT NULL,
    claimed_at      TIMESTAMP NOT NULL,
    attempt_at      TIMESTAMP,
    sent_at         TIMESTAMP,
    response_status INTEGER,
    error           VARCHAR,
    run_id          VARCHAR NOT NULL
);
