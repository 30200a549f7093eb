-- dispatch/mark_sending: hand one batch to the transport: its ledger rows that are STILL claimed
-- become sending with the batch id and attempt time, committed BEFORE the request goes out.
-- RETURNING names the rows this attempt now owns, one per invitation: only those are sent. A row
-- another attempt took first (it is no longer claimed) is not returned and not sent again.
-- DuckDB twin: the same rows selected, then updated without RETURNING (DuckDB runs an UPDATE with
-- RETURNING as a delete and an insert: three times the cost). One transaction of DuckDB's single
-- writer: the SELECT names exactly the rows the UPDATE moves (nps.warehouse.Warehouse.returning).
SELECT send_key FROM ops.survey_invitations
WHERE status = 'claimed'
  AND send_key IN (SELECT b.send_key FROM ops.dispatch_batches b WHERE b.batch_id = :batch_id);
UPDATE ops.survey_invitations
SET status = 'sending', batch_id = :batch_id, attempt_at = :now, transport = :transport,
    attempts = COALESCE(attempts, 0) + 1
WHERE status = 'claimed'
  AND send_key IN (SELECT b.send_key FROM ops.dispatch_batches b WHERE b.batch_id = :batch_id);
