-- Empty the event staging table before the next batch (session-temporary, grain: event_key).
DELETE FROM ingest_stage_events;
