-- ledger/mark_uncertain: no answer from the provider (timeout, connection lost after the
-- request): the keys stay sending with the error, to be reconciled from evidence.
UPDATE ops.message_ledger
SET error = :error
WHERE status = 'sending' AND batch_id = :batch_id AND send_key IN (SELECT UNNEST(CAST(:keys AS VARCHAR[])));
