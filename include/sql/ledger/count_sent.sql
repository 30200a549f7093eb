-- ledger/count_sent: how many of one call's staged keys are sent (and not claimed again by resend).
SELECT COUNT(*) AS n FROM ops.message_ledger
WHERE status = 'sent'
  AND send_key IN (SELECT s.send_key FROM ops.message_ledger_stage s WHERE s.stage_id = :stage_id);
