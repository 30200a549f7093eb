-- ops.raw_responses: append the chunk (grain: response_id). An exact duplicate of a row already
-- loaded (same response_id) is skipped; ingest/count_stage_duplicates counted those first.
-- DuckDB: ingest_stage_responses is the chunk's frame read in place (PostgreSQL copies).
INSERT INTO ops.raw_responses
    (response_id, survey_id, survey_type, score, comment, responded_at, locale, file_id, source_line, loaded_at)
SELECT s.response_id, s.survey_id, s.survey_type, s.score, s.comment, s.responded_at, s.locale, s.file_id,
       s.source_line, s.loaded_at
FROM ingest_stage_responses AS s
ON CONFLICT (response_id) DO NOTHING;
