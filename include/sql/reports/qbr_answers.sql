-- Who answered and how, for the QBR pages: one row per counted answer
-- (marts.fct_survey_responses) given in [:period_start, :period_end), newest first per account.
SELECT account_id, contact_id, role, survey_type, program, touchpoint, score, category,
       responded_at, comment
FROM marts.fct_survey_responses
WHERE responded_at >= :period_start AND responded_at < :period_end
ORDER BY account_id, responded_at DESC, response_id
