-- Audit check nps_range: mart rows whose NPS, interval or percentages leave their range
-- (NPS -100..100, percentages 0..100). One row per offending mart row; none = pass.
SELECT 'mart_nps' AS mart, period_grain, CAST(period_start AS VARCHAR) AS period_start, dimension, dimension_value,
       CAST(nps AS VARCHAR) AS value
FROM marts_staging.mart_nps
WHERE nps < -100 OR nps > 100 OR nps_ci_lower < -100 OR nps_ci_upper > 100 OR nps_ci_lower > nps_ci_upper
UNION ALL
SELECT 'mart_account_nps', period_grain, CAST(period_start AS VARCHAR), 'account', account_id, CAST(account_nps AS VARCHAR)
FROM marts_staging.mart_account_nps
WHERE account_nps < -100 OR account_nps > 100
UNION ALL
SELECT 'mart_csat', period_grain, CAST(period_start AS VARCHAR), dimension, dimension_value, CAST(csat_pct AS VARCHAR)
FROM marts_staging.mart_csat
WHERE csat_pct < 0 OR csat_pct > 100 OR csat_mean < 1 OR csat_mean > 5
UNION ALL
SELECT 'mart_ces', period_grain, CAST(period_start AS VARCHAR), dimension, dimension_value, CAST(ces_mean AS VARCHAR)
FROM marts_staging.mart_ces
WHERE ces_easy_pct < 0 OR ces_easy_pct > 100 OR ces_mean < 1 OR ces_mean > 7;
