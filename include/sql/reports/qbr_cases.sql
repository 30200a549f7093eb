-- The QBR owner pages' open follow-up cases (marts.fct_followups, as of the marts build): every
-- case still open or in progress, per account, the earliest due first; one row per case.
SELECT account_id, case_id, survey_type, score, category, case_status, case_due_at, case_overdue, escalation_level
FROM marts.fct_followups
WHERE case_status IN ('open', 'in_progress')
ORDER BY account_id, case_due_at, case_id
