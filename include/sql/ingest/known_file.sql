-- Has this file version (path + checksum) been ingested already? (grain: file_id)
SELECT status, archived_to, finished_at FROM ops.ingest_files WHERE file_id = :file_id;
