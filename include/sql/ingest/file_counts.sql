-- ingest/file_counts: what the warehouse holds for one file version (grain: file_id): rows in
-- ops.raw_responses and in ops.quarantine. The audit uses these counts, not the loader's own
-- arithmetic, so rows read = loaded + quarantined + duplicates can actually fail.
SELECT (SELECT COUNT(*) FROM ops.raw_responses WHERE file_id = :file_id) AS loaded,
       (SELECT COUNT(*) FROM ops.quarantine WHERE file_id = :file_id) AS quarantined;
