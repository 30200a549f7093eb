-- dispatch/mark_uncertain: one batch's outcome is unknown (e.g. a timeout): the ledger rows this
-- batch moved stay sending, with the error, for reconciliation to decide.
UPDATE ops.survey_invitations
SET error = :error
WHERE status = 'sending'
  AND batch_id = :batch_id
  AND send_key IN (SELECT b.send_key FROM ops.dispatch_batches b WHERE b.batch_id = :batch_id);
