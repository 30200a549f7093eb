-- ledger/mark_sent: the transport accepted the batch: the keys this attempt moved become sent.
UPDATE ops.message_ledger
SET status = 'sent', sent_at = :now, sends = sends + 1, error = NULL,
    message_id = COALESCE(CAST(:message_id AS VARCHAR), message_id)
WHERE status = 'sending' AND batch_id = :batch_id AND send_key IN (SELECT UNNEST(CAST(:keys AS VARCHAR[])));
