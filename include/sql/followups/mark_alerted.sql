-- ops.followup_cases: cases whose owner alert the send ledger recorded as sent (grain: case_id).
UPDATE ops.followup_cases AS k
SET owner_alerted_at = l.sent_at, updated_at = :now
FROM ops.message_ledger AS l
WHERE l.send_key = k.owner_alert_key AND l.status = 'sent' AND k.owner_alerted_at IS NULL
RETURNING k.case_id
