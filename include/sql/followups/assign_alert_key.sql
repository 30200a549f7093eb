-- ops.followup_cases: the owner alert that will tell the owner about these cases (grain: case_id);
-- :cases and :keys are parallel lists (case i is alerted under key i), set in one statement. A
-- case keeps the key it was given until the alert is confirmed sent.
UPDATE ops.followup_cases AS c
SET owner_alert_key = m.alert_key
FROM (SELECT UNNEST(CAST(:cases AS VARCHAR[])) AS case_id, UNNEST(CAST(:keys AS VARCHAR[])) AS alert_key) AS m
WHERE c.case_id = m.case_id AND c.owner_alert_key IS NULL AND c.owner_alerted_at IS NULL
