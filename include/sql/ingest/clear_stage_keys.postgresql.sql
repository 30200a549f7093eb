-- Empty the chunk's survey_id list before the next chunk (session-temporary, grain: survey_id).
-- PostgreSQL twin: TRUNCATE (no dead rows left for later chunks to scan), then the caller
-- ANALYZEs the refilled table so the planner joins it to the ledger with real row counts.
TRUNCATE ingest_stage_keys;
