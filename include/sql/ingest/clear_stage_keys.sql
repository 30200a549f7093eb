-- Empty the chunk's survey_id list before the next chunk (session-temporary, grain: survey_id).
DELETE FROM ingest_stage_keys;
