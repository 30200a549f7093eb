-- Rows at or below the published build's watermarks now: fewer or more than the build counted
-- means rows were deleted or loaded with old stamps, which an incremental build cannot see.
SELECT
    (SELECT COUNT(*) FROM ops.raw_responses WHERE loaded_at <= :wm_responses) AS responses_count,
    (SELECT COUNT(*) FROM ops.email_events WHERE loaded_at <= :wm_events) AS events_count,
    (SELECT COUNT(*) FROM ops.survey_invitations WHERE claimed_at <= :wm_invitations) AS invitations_count
