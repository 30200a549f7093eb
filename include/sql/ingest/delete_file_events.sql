-- Remove the email events of an interrupted earlier attempt at one event file (grain: file_id).
DELETE FROM ops.email_events WHERE file_id = :file_id;
