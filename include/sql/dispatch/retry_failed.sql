-- dispatch/retry_failed: a rerun of an interval (after the cause was fixed) sends its failed
-- invitations again; one ledger row per invitation goes back from failed to claimed.
UPDATE ops.survey_invitations
SET status = 'claimed'
WHERE interval_start = :interval_start AND status = 'failed';
