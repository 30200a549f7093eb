-- Customer retention over a run of periods (company-wide: the mart has no dimensions):
-- one row per period of marts.mart_retention.
SELECT period_start, period_end, customers_at_start, customers_acquired, customers_lost,
       customers_at_end, retention_rate_pct, churn_rate_pct
FROM marts.mart_retention
WHERE period_grain = :grain AND period_start BETWEEN :first_start AND :last_start
ORDER BY period_start
