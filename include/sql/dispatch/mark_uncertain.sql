-- dispatch/mark_uncertain: one batch's outcome is unknown (e.g. a timeout): its ledger rows stay
-- sending, with the error, for reconciliation to decide.
UPDATE ops.survey_invitations
SET error = :error
WHERE status = 'sending'
  AND send_key IN (SELECT b.send_key FROM ops.dispatch_batches b WHERE b.batch_id = :batch_id);
