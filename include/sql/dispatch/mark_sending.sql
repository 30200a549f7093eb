-- dispatch/mark_sending: hand one batch to the transport: its ledger rows that are STILL claimed
-- become sending with the batch id and attempt time, committed BEFORE the request goes out. Its
-- rowcount says how many of the batch's invitations this attempt now owns: all of them (the usual
-- case), or fewer when another attempt took some first; then dispatch/batch_owned names them in
-- the same transaction. A row that is no longer claimed is not moved and not sent again.
-- No RETURNING: DuckDB runs an UPDATE with RETURNING as a delete and an insert (three times the
-- cost), and the rowcount answers the usual case on both engines.
UPDATE ops.survey_invitations
SET status = 'sending', batch_id = :batch_id, attempt_at = :now, transport = :transport,
    attempts = COALESCE(attempts, 0) + 1
WHERE status = 'claimed'
  AND send_key IN (SELECT b.send_key FROM ops.dispatch_batches b WHERE b.batch_id = :batch_id);
