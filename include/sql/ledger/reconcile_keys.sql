-- ledger/reconcile_keys: uncertain sends whose evidence the transport holds (the outbox file
-- exists: it is written atomically, so its presence is proof) become sent.
UPDATE ops.message_ledger
SET status = 'sent', sent_at = COALESCE(sent_at, attempt_at), sends = sends + 1, error = NULL
WHERE scope = :scope AND status = 'sending' AND send_key IN (SELECT UNNEST(CAST(:keys AS VARCHAR[])));
