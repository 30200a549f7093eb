-- ledger/mark_sending: hand one batch to the transport: its keys that are STILL claimed become
-- sending, committed BEFORE the request goes out. RETURNING names the keys this attempt owns:
-- only those are sent; a key another attempt took first is not returned and not sent again.
UPDATE ops.message_ledger
SET status = 'sending', batch_id = :batch_id, attempt_at = :now, transport = :transport, folder = :folder,
    attempts = attempts + 1
WHERE status = 'claimed'
  AND send_key IN (SELECT UNNEST(CAST(:keys AS VARCHAR[])))
RETURNING send_key;
