-- The QBR pack's account list: every active account with an owner (marts.mart_churn_risk, as of
-- the marts build), with its risk level, reasons and ARR at risk; one row per account.
SELECT owner_name, account_id, account_name, industry, segment, region, arr, nps_respondents,
       nps_mean_score, nps_category, risk_level, reasons, arr_at_risk, last_response_at
FROM marts.mart_churn_risk
WHERE owner_name IS NOT NULL
ORDER BY owner_name, arr_at_risk DESC, arr DESC, account_id
