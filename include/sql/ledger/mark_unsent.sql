-- ledger/mark_unsent: the provider refused the batch: claimed again (throttled, 5xx: the next
-- attempt sends it) or failed (a 4xx payload error: a rerun after the fix claims it again).
UPDATE ops.message_ledger
SET status = :status, error = :error
WHERE status = 'sending' AND batch_id = :batch_id AND send_key IN (SELECT UNNEST(CAST(:keys AS VARCHAR[])));
