-- dispatch/waiting: an interval's uncertain sends still waiting for evidence or the grace
-- period: how many, and the oldest attempt (when the first of them may be re-queued). One row.
SELECT COUNT(*) AS n, MIN(attempt_at) AS oldest_attempt_at
FROM ops.survey_invitations
WHERE interval_start = :interval_start AND status = 'sending';
