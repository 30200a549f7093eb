-- dispatch/uncertain: the uncertain sends (status sending) of an interval, one row per invitation.
SELECT send_key, transport, batch_id, attempt_at
FROM ops.survey_invitations
WHERE interval_start = :interval_start AND status = 'sending';
