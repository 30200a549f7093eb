-- Remove the quarantine rows of an interrupted earlier attempt at one file version (grain: file_id).
DELETE FROM ops.quarantine WHERE file_id = :file_id;
