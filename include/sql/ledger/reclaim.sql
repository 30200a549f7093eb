-- ledger/reclaim: keys of this call that failed before (a 4xx the operator has since fixed) are
-- claimed again; with resend, so are keys that were sent by ANOTHER run (a retry of the same run
-- never sends a resend twice).
UPDATE ops.message_ledger
SET status = 'claimed', run_id = :run_id, claimed_at = :now, error = NULL
WHERE send_key IN (SELECT s.send_key FROM ops.message_ledger_stage s WHERE s.stage_id = :stage_id)
  AND (status = 'failed' OR (:resend AND status = 'sent' AND run_id <> :run_id));
