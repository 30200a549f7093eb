-- dispatch/mark_unsent: one batch was certainly not accepted (or was rejected): the ledger rows
-- this batch moved leave sending for :status (claimed to be sent again, failed to wait for a
-- fix) with the error.
UPDATE ops.survey_invitations
SET status = :status, error = :error
WHERE status = 'sending'
  AND batch_id = :batch_id
  AND send_key IN (SELECT b.send_key FROM ops.dispatch_batches b WHERE b.batch_id = :batch_id);
