-- ops.followup_cases: cases whose escalation to level :level the send ledger recorded as sent
-- (grain: case_id); one level at a time, from the level below.
UPDATE ops.followup_cases AS k
SET escalation_level = :level, escalated_at = l.sent_at, updated_at = :now
FROM ops.message_ledger AS l
WHERE l.send_key = 'escalation/' || k.case_id || '/' || CAST(:level AS VARCHAR)
  AND l.status = 'sent' AND k.escalation_level = :level - 1
RETURNING k.case_id
