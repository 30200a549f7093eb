-- Account NPS per quarter for the QBR pages (marts.mart_account_nps): one row per account and
-- quarter in [:first_start, :last_start] in which the account answered NPS.
SELECT account_id, period_start, responses, respondents, promoters, passives, detractors, account_nps
FROM marts.mart_account_nps
WHERE period_grain = 'quarter' AND period_start BETWEEN :first_start AND :last_start
ORDER BY account_id, period_start
