-- ops.email_events: append the staged batch (grain: event_key), skipping events already loaded.
-- An event that carries only one of send_key / survey_id gets the other from the ledger.
INSERT INTO ops.email_events (event_key, send_key, survey_id, event, email, reason, occurred_at, file_id, loaded_at,
                             sg_message_id)
SELECT s.event_key,
       COALESCE(s.send_key, by_survey.send_key),
       COALESCE(s.survey_id, by_key.survey_id),
       s.event, s.email, s.reason, s.occurred_at, s.file_id, s.loaded_at, s.sg_message_id
FROM ingest_stage_events AS s
LEFT JOIN ops.survey_invitations AS by_key ON by_key.send_key = s.send_key
LEFT JOIN ops.survey_invitations AS by_survey ON by_survey.survey_id = s.survey_id
WHERE NOT EXISTS (SELECT 1 FROM ops.email_events AS e WHERE e.event_key = s.event_key);
