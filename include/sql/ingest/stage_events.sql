-- ingest_stage_events: session-temporary copy of one event batch's well-formed, first-seen events
-- (grain: event_key), so the batch is merged into ops.email_events in set operations.
CREATE TEMPORARY TABLE IF NOT EXISTS ingest_stage_events (
    event_key   VARCHAR,
    send_key    VARCHAR,
    survey_id   VARCHAR,
    event       VARCHAR,
    email       VARCHAR,
    reason      VARCHAR,
    occurred_at TIMESTAMP,
    file_id     VARCHAR,
    loaded_at   TIMESTAMP,
    sg_message_id VARCHAR
);
