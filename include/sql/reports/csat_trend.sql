-- CSAT of one dimension value over a run of periods: one row per period of marts.mart_csat.
SELECT period_start, period_end, satisfied, neutral, dissatisfied, responses, csat_pct, csat_pct_moe,
       csat_mean, prev_responses, prev_csat_pct, csat_pct_change, change_significant
FROM marts.mart_csat
WHERE period_grain = :grain AND dimension = :dimension AND dimension_value = :value
  AND period_start BETWEEN :first_start AND :last_start
ORDER BY period_start
