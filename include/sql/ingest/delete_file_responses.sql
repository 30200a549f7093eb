-- Remove what an interrupted earlier attempt loaded from one file version (grain: file_id).
DELETE FROM ops.raw_responses WHERE file_id = :file_id;
