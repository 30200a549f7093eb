-- Audit check category_counts: mart rows whose category counts do not sum to responses, and
-- dimension totals that differ from dimension all. One row per offending row; none = pass.
SELECT 'mart_nps' AS mart, period_grain, CAST(period_start AS VARCHAR) AS period_start, dimension, dimension_value,
       CAST(promoters + passives + detractors AS VARCHAR) AS category_sum, CAST(responses AS VARCHAR) AS responses
FROM marts_staging.mart_nps
WHERE promoters + passives + detractors <> responses
UNION ALL
SELECT 'mart_csat', period_grain, CAST(period_start AS VARCHAR), dimension, dimension_value,
       CAST(satisfied + neutral + dissatisfied AS VARCHAR), CAST(responses AS VARCHAR)
FROM marts_staging.mart_csat
WHERE satisfied + neutral + dissatisfied <> responses
UNION ALL
SELECT 'mart_ces', period_grain, CAST(period_start AS VARCHAR), dimension, dimension_value,
       CAST(easy + neutral + high_effort AS VARCHAR), CAST(responses AS VARCHAR)
FROM marts_staging.mart_ces
WHERE easy + neutral + high_effort <> responses
UNION ALL
SELECT 'mart_nps', t.period_grain, CAST(t.period_start AS VARCHAR), t.dimension, 'sum of values',
       CAST(t.responses AS VARCHAR), CAST(a.responses AS VARCHAR)
FROM (
    SELECT period_grain, period_start, dimension, SUM(responses) AS responses
    FROM marts_staging.mart_nps GROUP BY period_grain, period_start, dimension
) AS t
JOIN marts_staging.mart_nps AS a
    ON a.period_grain = t.period_grain AND a.period_start = t.period_start AND a.dimension = 'all'
WHERE t.responses <> a.responses;
