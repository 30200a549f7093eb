-- NPS of every value of one dimension (industry, segment, ...) in one period, with its interval:
-- one row per dimension_value of marts.mart_nps that has answers, best NPS first.
SELECT dimension_value, responses, nps, nps_moe, nps_ci_lower, nps_ci_upper, prev_nps, change_significant
FROM marts.mart_nps
WHERE period_grain = :grain AND period_start = :period_start AND dimension = :dimension AND responses > 0
ORDER BY nps DESC, dimension_value
