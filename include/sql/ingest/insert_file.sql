-- ops.ingest_files: the audit row of one finished file version (grain: file_id).
INSERT INTO ops.ingest_files
    (file_id, kind, path, checksum, size_bytes, file_format, status, reason, rows_read, rows_loaded,
     rows_quarantined, rows_duplicate, rows_security, archived_to, started_at, finished_at)
VALUES
    (:file_id, :kind, :path, :checksum, :size_bytes, :file_format, :status, :reason, :rows_read, :rows_loaded,
     :rows_quarantined, :rows_duplicate, :rows_security, :archived_to, :started_at, :finished_at);
