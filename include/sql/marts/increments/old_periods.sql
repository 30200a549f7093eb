-- The periods (week, month, quarter) of the base build's fact rows of the changed surveys, as
-- 'touched' slices, and the (month or quarter, account) cells of their NPS answers
-- (mart_account_nps): read before the fact table is rebuilt (in place, those rows are deleted).
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
INSERT INTO ops.mart_slice_cells (period_grain, period_start, account_id)
WITH answers AS (
    SELECT DISTINCT CAST(date_trunc('month', f.responded_at) AS DATE) AS month_start, f.account_id
    FROM marts_base.fct_survey_responses AS f
    JOIN ops.mart_changed_surveys AS c ON c.survey_id = f.survey_id
    WHERE f.survey_type = 'nps'
)
SELECT 'month', month_start, account_id FROM answers
UNION
SELECT 'quarter', CAST(date_trunc('quarter', CAST(month_start AS TIMESTAMP)) AS DATE), account_id FROM answers;
