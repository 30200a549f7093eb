-- dispatch/batch_owned: the invitations one batch moved to sending (dispatch/mark_sending, same
-- transaction), one row per invitation. Batch ids are unique to an attempt, so these are exactly
-- the rows this attempt owns; read only when mark_sending moved fewer rows than the batch holds.
SELECT send_key FROM ops.survey_invitations
WHERE status = 'sending'
  AND batch_id = :batch_id
  AND send_key IN (SELECT b.send_key FROM ops.dispatch_batches b WHERE b.batch_id = :batch_id);
