-- ledger/mark_sending: hand one batch to the transport: its keys that are STILL claimed become
-- sending, committed BEFORE the request goes out. RETURNING names the keys this attempt owns:
-- only those are sent; a key another attempt took first is not returned and not sent again.
-- DuckDB twin: the same rows selected, then updated without RETURNING (DuckDB runs an UPDATE with
-- RETURNING as a delete and an insert: three times the cost). One transaction of DuckDB's single
-- writer: the SELECT names exactly the rows the UPDATE moves (nps.warehouse.Warehouse.returning).
SELECT send_key FROM ops.message_ledger
WHERE status = 'claimed'
  AND send_key IN (SELECT UNNEST(CAST(:keys AS VARCHAR[])));
UPDATE ops.message_ledger
SET status = 'sending', batch_id = :batch_id, attempt_at = :now, transport = :transport, folder = :folder,
    attempts = attempts + 1
WHERE status = 'claimed'
  AND send_key IN (SELECT UNNEST(CAST(:keys AS VARCHAR[])));
