-- ops.followup_cases: cases whose escalation to level :level the send ledger recorded as sent
-- (grain: case_id); one level at a time, from the level below.
-- DuckDB twin: the same rows selected, then updated without RETURNING (DuckDB runs an UPDATE with
-- RETURNING as a delete and an insert: three times the cost). One transaction of DuckDB's single
-- writer: the SELECT names exactly the rows the UPDATE moves (nps.warehouse.Warehouse.returning).
SELECT k.case_id
FROM ops.followup_cases AS k
JOIN ops.message_ledger AS l ON l.send_key = 'escalation/' || k.case_id || '/' || CAST(:level AS VARCHAR)
WHERE l.status = 'sent' AND k.escalation_level = :level - 1;
UPDATE ops.followup_cases AS k
SET escalation_level = :level, escalated_at = l.sent_at, updated_at = :now
FROM ops.message_ledger AS l
WHERE l.send_key = 'escalation/' || k.case_id || '/' || CAST(:level AS VARCHAR)
  AND l.status = 'sent' AND k.escalation_level = :level - 1;
