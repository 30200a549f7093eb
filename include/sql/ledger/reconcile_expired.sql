-- ledger/reconcile_expired: uncertain sends with no evidence of acceptance after the grace period
-- are treated as not accepted and go back to claimed, to be sent again.
UPDATE ops.message_ledger
SET status = 'claimed', error = 'uncertain send, no evidence of acceptance after the grace period; resent'
WHERE scope = :scope AND status = 'sending' AND attempt_at < :cutoff;
