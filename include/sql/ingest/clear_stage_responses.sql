-- Empty the chunk staging table before the next chunk (session-temporary, grain: response_id).
DELETE FROM ingest_stage_responses;
