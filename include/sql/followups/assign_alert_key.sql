-- ops.followup_cases: the owner alert that will tell the owner about these cases (grain: case_id);
-- a case keeps the key it was given until the alert is confirmed sent.
UPDATE ops.followup_cases SET owner_alert_key = :key
WHERE owner_alert_key IS NULL AND owner_alerted_at IS NULL AND case_id IN :keys
