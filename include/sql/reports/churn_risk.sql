-- The accounts whose revenue is most at risk (marts.mart_churn_risk, a snapshot as of the marts
-- build), optionally for one industry, segment or region: riskiest revenue first.
SELECT as_of, risk_rank, account_id, account_name, industry, segment, region, owner_name, arr,
       nps_category, risk_points, risk_level, reasons, arr_at_risk
FROM marts.mart_churn_risk
WHERE risk_points > 0
  AND (CAST(:industry AS VARCHAR) IS NULL OR industry = CAST(:industry AS VARCHAR))
  AND (CAST(:segment AS VARCHAR) IS NULL OR segment = CAST(:segment AS VARCHAR))
  AND (CAST(:region AS VARCHAR) IS NULL OR region = CAST(:region AS VARCHAR))
ORDER BY risk_rank
LIMIT :top_n
