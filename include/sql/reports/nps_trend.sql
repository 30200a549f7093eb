-- NPS of one dimension value over a run of periods (the reported period and the ones before it):
-- one row per period of marts.mart_nps in [:first_start, :last_start] for :grain, :dimension, :value.
SELECT period_start, period_end, promoters, passives, detractors, responses, nps, nps_moe,
       nps_ci_lower, nps_ci_upper, prev_responses, prev_nps, nps_change, change_significant
FROM marts.mart_nps
WHERE period_grain = :grain AND dimension = :dimension AND dimension_value = :value
  AND period_start BETWEEN :first_start AND :last_start
ORDER BY period_start
