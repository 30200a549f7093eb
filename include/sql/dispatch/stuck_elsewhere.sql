-- dispatch/stuck_elsewhere: unfinished invitations (claimed, sending, failed) of OTHER intervals,
-- one row per (interval, status), so the log tells on-call which runs to clear.
SELECT interval_start, status, COUNT(*) AS n
FROM ops.survey_invitations
WHERE interval_start IS NOT NULL AND interval_start <> :interval_start
  AND status IN ('claimed', 'sending', 'failed')
GROUP BY interval_start, status
ORDER BY interval_start, status;
