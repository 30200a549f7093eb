-- dispatch/mark_sending: hand one batch to the transport: its ledger rows that are STILL claimed
-- become sending with the batch id and attempt time, committed BEFORE the request goes out.
-- RETURNING names the rows this attempt now owns, one per invitation: only those are sent. A row
-- another attempt took first (it is no longer claimed) is not returned and not sent again.
UPDATE ops.survey_invitations
SET status = 'sending', batch_id = :batch_id, attempt_at = :now, transport = :transport,
    attempts = COALESCE(attempts, 0) + 1
WHERE status = 'claimed'
  AND send_key IN (SELECT b.send_key FROM ops.dispatch_batches b WHERE b.batch_id = :batch_id)
RETURNING send_key;
