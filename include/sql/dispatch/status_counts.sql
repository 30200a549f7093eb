-- dispatch/status_counts: an interval's ledger rows by status, one row per status.
SELECT status, COUNT(*) AS n
FROM ops.survey_invitations
WHERE interval_start = :interval_start
GROUP BY status;
