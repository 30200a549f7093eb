-- dispatch/claim: claim an interval's selected cohort in the send ledger (ops.survey_invitations),
-- one row per invitation under its send key, BEFORE anything is sent: the keys staged by
-- dispatch/claim_stage (rows already in the ledger are left as they are).
INSERT INTO ops.survey_invitations (
    send_key, survey_id, run_id, cycle, program, survey_type, touchpoint, touchpoint_event_id,
    contact_id, account_id, locale, status, claimed_at, interval_start, cohort_date, attempts
)
SELECT c.send_key, c.survey_id, CAST(:run_id AS VARCHAR), c.cycle, c.program, c.survey_type, c.touchpoint,
       c.touchpoint_event_id, c.contact_id, c.account_id, c.locale, 'claimed', CAST(:now AS TIMESTAMP),
       c.interval_start, c.cohort_date, 0
FROM ops.cohort_candidates c
JOIN ops.dispatch_batches s
  ON s.batch_id = :stage_id AND s.send_key = c.send_key AND s.interval_start = c.interval_start
WHERE c.interval_start = :interval_start;
