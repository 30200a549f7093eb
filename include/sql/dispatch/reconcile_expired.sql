-- dispatch/reconcile_expired: uncertain sends with no evidence of acceptance after the grace
-- period are treated as not accepted and go back to claimed, to be sent again.
UPDATE ops.survey_invitations
SET status = 'claimed', error = 'uncertain send, no evidence of acceptance after the grace period; resent'
WHERE interval_start = :interval_start
  AND status = 'sending'
  AND attempt_at < :cutoff;
