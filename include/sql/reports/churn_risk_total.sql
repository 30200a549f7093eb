-- Total ARR at risk (short and long term, every active account) and the number of accounts
-- with ARR at risk (marts.mart_churn_risk), optionally for one industry, segment or region: one row.
SELECT CAST(SUM(CASE WHEN arr_at_risk > 0 THEN 1 ELSE 0 END) AS BIGINT) AS accounts_at_risk,
       SUM(arr_at_risk) AS arr_at_risk, MAX(as_of) AS as_of
FROM marts.mart_churn_risk
WHERE (CAST(:industry AS VARCHAR) IS NULL OR industry = CAST(:industry AS VARCHAR))
  AND (CAST(:segment AS VARCHAR) IS NULL OR segment = CAST(:segment AS VARCHAR))
  AND (CAST(:region AS VARCHAR) IS NULL OR region = CAST(:region AS VARCHAR))
