-- Total ARR at risk and the number of accounts at risk (marts.mart_churn_risk), optionally for
-- one industry, segment or region: one row.
SELECT CAST(COUNT(*) AS BIGINT) AS accounts_at_risk, SUM(arr_at_risk) AS arr_at_risk, MAX(as_of) AS as_of
FROM marts.mart_churn_risk
WHERE risk_points > 0
  AND (CAST(:industry AS VARCHAR) IS NULL OR industry = CAST(:industry AS VARCHAR))
  AND (CAST(:segment AS VARCHAR) IS NULL OR segment = CAST(:segment AS VARCHAR))
  AND (CAST(:region AS VARCHAR) IS NULL OR region = CAST(:region AS VARCHAR))
