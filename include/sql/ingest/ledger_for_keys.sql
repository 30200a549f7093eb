-- The ledger facts a response is checked against, for the surveys of one chunk (grain: survey_id):
-- its survey type and when it was sent (claimed_at when a 'sending' row has no sent_at yet).
-- Dispatched = sent, or sending (handed to the transport: the token may be in a person's hands).
SELECT i.survey_id, i.survey_type AS ledger_type, COALESCE(i.sent_at, i.claimed_at) AS sent_at
FROM ops.survey_invitations AS i
JOIN ingest_stage_keys AS k ON k.survey_id = i.survey_id
WHERE i.status IN ('sent', 'sending');
