-- Churn-driver themes in the negative comments (NPS detractors, CSAT dissatisfied, CES high
-- effort) of one period and dimension value: one row per theme mentioned, with the share of the
-- negative comments that mention it. marts.mart_comment_themes has months and quarters and the
-- dimensions all, industry and segment.
WITH negative AS (
    SELECT survey_type, category, MAX(comments) AS comments
    FROM marts.mart_comment_themes
    WHERE period_grain = :grain AND period_start = :period_start AND dimension = :dimension
      AND dimension_value = :value AND category IN ('detractor', 'dissatisfied', 'high_effort')
    GROUP BY survey_type, category
)
SELECT t.theme, CAST(SUM(t.theme_comments) AS BIGINT) AS mentions,
       (SELECT CAST(SUM(comments) AS BIGINT) FROM negative) AS comments
FROM marts.mart_comment_themes AS t
WHERE t.period_grain = :grain AND t.period_start = :period_start AND t.dimension = :dimension
  AND t.dimension_value = :value AND t.category IN ('detractor', 'dissatisfied', 'high_effort')
GROUP BY t.theme
HAVING SUM(t.theme_comments) > 0
ORDER BY SUM(t.theme_comments) DESC, t.theme
