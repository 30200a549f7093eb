-- The periods (week, month, quarter) of the base build's fact rows of the changed surveys, as
-- 'touched' slices: read before the fact table is rebuilt (in place, those rows are deleted).
INSERT INTO ops.mart_slices (slice, period_grain, period_start)
WITH days AS (
    SELECT DISTINCT CAST(f.responded_at AS DATE) AS d
    FROM marts_base.fct_survey_responses AS f
    JOIN ops.mart_changed_surveys AS c ON c.survey_id = f.survey_id
)
SELECT DISTINCT 'touched', 'week', CAST(date_trunc('week', CAST(d AS TIMESTAMP)) AS DATE) FROM days
UNION
SELECT DISTINCT 'touched', 'month', CAST(date_trunc('month', CAST(d AS TIMESTAMP)) AS DATE) FROM days
UNION
SELECT DISTINCT 'touched', 'quarter', CAST(date_trunc('quarter', CAST(d AS TIMESTAMP)) AS DATE) FROM days;
