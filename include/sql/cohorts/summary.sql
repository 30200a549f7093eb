-- cohorts/summary: the exclusion counts of one data interval's cohort, one row per interval
-- (ops.cohort_runs), counted from ops.cohort_candidates.
INSERT INTO ops.cohort_runs (
    interval_start, interval_end, run_id, selected_at, due, due_relationship, due_transactional,
    churned, no_consent, suppressed, fatigue, relationship_wins, account_cap, selected
)
SELECT CAST(:interval_start AS TIMESTAMP), CAST(:interval_end AS TIMESTAMP), CAST(:run_id AS VARCHAR),
       CAST(:selected_at AS TIMESTAMP),
       COUNT(c.send_key),
       COALESCE(SUM(CASE WHEN c.program = 'relationship' THEN 1 ELSE 0 END), 0),
       COALESCE(SUM(CASE WHEN c.program = 'transactional' THEN 1 ELSE 0 END), 0),
       COALESCE(SUM(CASE WHEN c.reason = 'churned' THEN 1 ELSE 0 END), 0),
       COALESCE(SUM(CASE WHEN c.reason = 'no_consent' THEN 1 ELSE 0 END), 0),
       COALESCE(SUM(CASE WHEN c.reason = 'suppressed' THEN 1 ELSE 0 END), 0),
       COALESCE(SUM(CASE WHEN c.reason = 'fatigue' THEN 1 ELSE 0 END), 0),
       COALESCE(SUM(CASE WHEN c.reason = 'relationship_wins' THEN 1 ELSE 0 END), 0),
       COALESCE(SUM(CASE WHEN c.reason = 'account_cap' THEN 1 ELSE 0 END), 0),
       COALESCE(SUM(CASE WHEN c.reason = 'selected' THEN 1 ELSE 0 END), 0)
FROM ops.cohort_candidates c
WHERE c.interval_start = :interval_start;
