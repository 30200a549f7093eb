-- The periods (week, month, quarter) of the base build's fact rows of the changed surveys, as
-- 'touched' slices, and the (month or quarter, account) cells of their NPS answers
-- (mart_account_nps): read before the fact table is rebuilt (in place, those rows are deleted).
{% import '_incremental_macros.sql.j2' as inc with context -%}
INSERT INTO ops.mart_slices (slice, period_grain, period_start)
WITH days AS (
    SELECT DISTINCT CAST(f.responded_at AS DATE) AS d
    FROM marts_base.fct_survey_responses AS f
    JOIN ops.mart_changed_surveys AS c ON c.survey_id = f.survey_id
)
SELECT 'touched', period_grain, period_start FROM ({{ inc.periods_of_days('days') }}) AS p;
INSERT INTO ops.mart_slice_cells (period_grain, period_start, account_id)
{{ inc.nps_answer_cells('marts_base.fct_survey_responses') }};
