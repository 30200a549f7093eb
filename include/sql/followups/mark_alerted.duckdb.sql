-- ops.followup_cases: cases whose owner alert the send ledger recorded as sent (grain: case_id).
-- DuckDB twin: the same rows selected, then updated without RETURNING (DuckDB runs an UPDATE with
-- RETURNING as a delete and an insert: three times the cost). One transaction of DuckDB's single
-- writer: the SELECT names exactly the rows the UPDATE moves (nps.warehouse.Warehouse.returning).
SELECT k.case_id
FROM ops.followup_cases AS k
JOIN ops.message_ledger AS l ON l.send_key = k.owner_alert_key
WHERE l.status = 'sent' AND k.owner_alerted_at IS NULL;
UPDATE ops.followup_cases AS k
SET owner_alerted_at = l.sent_at, updated_at = :now
FROM ops.message_ledger AS l
WHERE l.send_key = k.owner_alert_key AND l.status = 'sent' AND k.owner_alerted_at IS NULL;
