-- How many staged events were already loaded from an earlier batch (webhook retries).
SELECT COUNT(*) AS n
FROM ingest_stage_events AS s
WHERE EXISTS (SELECT 1 FROM ops.email_events AS e WHERE e.event_key = s.event_key);
