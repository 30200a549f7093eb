-- ops.email_events: append the staged batch (grain: event_key), skipping events already loaded.
-- An event that carries only one of send_key / survey_id gets the other from the ledger; an
-- event without an address (an unsubscribe recorded by the response page, which knows only the
-- survey) gets the contact's address through the ledger.
INSERT INTO ops.email_events (event_key, send_key, survey_id, event, email, reason, occurred_at, file_id, loaded_at,
                             sg_message_id)
SELECT s.event_key,
       COALESCE(s.send_key, by_survey.send_key),
       COALESCE(s.survey_id, by_key.survey_id),
       s.event,
       COALESCE(s.email, LOWER(c.email)),
       s.reason, s.occurred_at, s.file_id, s.loaded_at, s.sg_message_id
FROM ingest_stage_events AS s
LEFT JOIN ops.survey_invitations AS by_key ON by_key.send_key = s.send_key
LEFT JOIN ops.survey_invitations AS by_survey ON by_survey.survey_id = s.survey_id
LEFT JOIN src.contacts AS c ON s.email IS NULL AND c.contact_id = COALESCE(by_key.contact_id, by_survey.contact_id)
WHERE NOT EXISTS (SELECT 1 FROM ops.email_events AS e WHERE e.event_key = s.event_key);
