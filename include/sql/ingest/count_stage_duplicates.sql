-- ingest/count_stage_duplicates: how many rows of the chunk are exact duplicates of answers
-- ALREADY in ops.raw_responses (same response_id), counted BEFORE the insert and independently of
-- its rowcount, so a row the insert loses cannot pass as a duplicate. One row, one number.
-- DuckDB: ingest_stage_responses is the chunk's frame read in place (PostgreSQL asks
-- ingest/existing_responses and copies the rest straight into the table).
SELECT COUNT(*) AS n
FROM ingest_stage_responses AS s
WHERE EXISTS (SELECT 1 FROM ops.raw_responses AS r WHERE r.response_id = s.response_id);
