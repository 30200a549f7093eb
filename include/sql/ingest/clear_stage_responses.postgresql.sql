-- Empty the chunk staging table before the next chunk (session-temporary, grain: response_id).
-- PostgreSQL twin: TRUNCATE, because DELETE leaves dead rows that autovacuum never cleans in a
-- temporary table, so every later chunk would scan all earlier chunks' rows.
TRUNCATE ingest_stage_responses;
