-- ingest_stage_keys: session-temporary list of the survey_ids of one chunk (grain: survey_id),
-- joined to the ledger so a chunk costs one query, whatever its size.
CREATE TEMPORARY TABLE IF NOT EXISTS ingest_stage_keys (
    survey_id VARCHAR
);
