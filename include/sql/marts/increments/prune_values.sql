-- After an incremental build of {{ mart }}: a dimension value with no answer left in any period
-- (its last answer was changed or its contact deleted) has no rows in a full build: drop its rows.
DELETE FROM marts_staging.{{ mart }}
WHERE EXISTS (
    SELECT 1
    FROM (
        SELECT period_grain, dimension, dimension_value
        FROM marts_staging.{{ mart }}
        GROUP BY period_grain, dimension, dimension_value
        HAVING SUM(responses) = 0
    ) AS gone
    WHERE gone.period_grain = {{ mart }}.period_grain AND gone.dimension = {{ mart }}.dimension
        AND gone.dimension_value = {{ mart }}.dimension_value
);
