-- The sources' watermarks as a build starts: the latest answer and event loads, the latest
-- ledger change (claim, send or delivery update), and how many rows lie at or below the load
-- watermarks (answers, events) and the ledger change watermark (claimed_at only: sends and delivery updates change rows, not add them).
SELECT
    (SELECT MAX(loaded_at) FROM ops.raw_responses) AS responses_loaded_at,
    (SELECT COUNT(*) FROM ops.raw_responses) AS responses_count,
    (SELECT MAX(loaded_at) FROM ops.email_events) AS events_loaded_at,
    (SELECT COUNT(*) FROM ops.email_events) AS events_count,
    (SELECT MAX(claimed_at) FROM ops.survey_invitations) AS invitations_claimed_at,
    (SELECT MAX(sent_at) FROM ops.survey_invitations) AS invitations_sent_at,
    (SELECT MAX(delivery_updated_at) FROM ops.survey_invitations) AS invitations_updated_at,
    (SELECT COUNT(*) FROM ops.survey_invitations) AS invitations_count
