-- CES of one dimension value over a run of periods: one row per period of marts.mart_ces.
SELECT period_start, period_end, easy, neutral, high_effort, responses, ces_mean, ces_mean_moe,
       ces_easy_pct, prev_responses, prev_ces_mean, ces_mean_change, change_significant
FROM marts.mart_ces
WHERE period_grain = :grain AND dimension = :dimension AND dimension_value = :value
  AND period_start BETWEEN :first_start AND :last_start
ORDER BY period_start
