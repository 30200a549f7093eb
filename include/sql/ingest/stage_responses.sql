-- ingest_stage_responses: session-temporary copy of one chunk's valid responses (grain: response_id),
-- so duplicates of rows already in ops.raw_responses are counted and skipped in one set operation.
CREATE TEMPORARY TABLE IF NOT EXISTS ingest_stage_responses (
    response_id  VARCHAR,
    survey_id    VARCHAR,
    survey_type  VARCHAR,
    score        INTEGER,
    comment      VARCHAR,
    responded_at TIMESTAMP,
    locale       VARCHAR,
    file_id      VARCHAR,
    source_line  BIGINT,
    loaded_at    TIMESTAMP
);
