-- ingest/existing_responses: which of a chunk's response_ids ops.raw_responses ALREADY holds
-- (grain: response_id): exact duplicates of answers loaded before. Found before the chunk is
-- appended and counted apart from the append, so a row the append loses cannot pass as a
-- duplicate. (PostgreSQL: the chunk's other rows are then copied straight into the table.)
SELECT r.response_id
FROM ops.raw_responses AS r
WHERE r.response_id = ANY(CAST(:ids AS VARCHAR[]));
