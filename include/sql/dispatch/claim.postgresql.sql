-- dispatch/claim (PostgreSQL): claim an interval's selected cohort in the send ledger
-- (ops.survey_invitations), one row per invitation under its send key, BEFORE anything is sent.
-- A row whose send key or survey id is already in the ledger is left as it is: ON CONFLICT DO
-- NOTHING checks both unique indexes row by row, so no anti-join rescans the growing ledger and
-- no keys need staging first (claim_stage.postgresql.sql does nothing); same rows as claim.sql.
INSERT INTO ops.survey_invitations (
    send_key, survey_id, run_id, cycle, program, survey_type, touchpoint, touchpoint_event_id,
    contact_id, account_id, locale, status, claimed_at, interval_start, cohort_date, attempts
)
SELECT c.send_key, c.survey_id, CAST(:run_id AS VARCHAR), c.cycle, c.program, c.survey_type, c.touchpoint,
       c.touchpoint_event_id, c.contact_id, c.account_id, c.locale, 'claimed', CAST(:now AS TIMESTAMP),
       c.interval_start, c.cohort_date, 0
FROM ops.cohort_candidates c
WHERE c.interval_start = :interval_start
  AND c.reason = 'selected'
ON CONFLICT DO NOTHING;
