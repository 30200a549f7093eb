-- dispatch/hand_back: one batch was committed sending but never handed to the transport (the
-- request before it was not accepted, or the attempt stopped first): the ledger rows this batch
-- moved go back to claimed, certainly not sent, and the attempt it was counted for is taken back.
UPDATE ops.survey_invitations
SET status = 'claimed', attempts = attempts - 1
WHERE status = 'sending'
  AND batch_id = :batch_id
  AND send_key IN (SELECT b.send_key FROM ops.dispatch_batches b WHERE b.batch_id = :batch_id);
