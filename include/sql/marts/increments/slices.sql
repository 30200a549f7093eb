-- ops.mart_slices: the periods an incremental build recomputes, after the fact table and the
-- calendar are built. touched = the week, month and quarter of every changed survey's counted
-- answer, before (base build, increments/old_periods.sql) and after (staging), plus calendar
-- periods added or removed since the base build. score_out (rows rebuilt in mart_nps/csat/ces) = touched and
-- the period after each (its previous-period comparison changes); score_in (answers read) =
-- score_out and the period before each. account = touched. rates = the send periods of the
-- changed surveys' invitations. And the (month or quarter, account) cells of the changed
-- surveys' NPS answers now (ops.mart_slice_cells; the base build's: old_periods.sql).
{% import '_incremental_macros.sql.j2' as inc with context -%}
INSERT INTO ops.mart_slices (slice, period_grain, period_start)
WITH days AS (
    SELECT DISTINCT CAST(f.responded_at AS DATE) AS d
    FROM marts_staging.fct_survey_responses AS f
    JOIN ops.mart_changed_surveys AS c ON c.survey_id = f.survey_id
),
fresh AS (
    {{ inc.periods_of_days('days') }}
    UNION
    (SELECT period_grain, period_start FROM ops.mart_calendar
     EXCEPT
     SELECT period_grain, period_start FROM ops.mart_build_calendar WHERE build_schema = :base)
    UNION
    (SELECT period_grain, period_start FROM ops.mart_build_calendar WHERE build_schema = :base
     EXCEPT
     SELECT period_grain, period_start FROM ops.mart_calendar)
)
SELECT 'touched', period_grain, period_start FROM fresh
EXCEPT
SELECT slice, period_grain, period_start FROM ops.mart_slices;
INSERT INTO ops.mart_slices (slice, period_grain, period_start)
WITH touched AS (
    SELECT period_grain, period_start FROM ops.mart_slices WHERE slice = 'touched'
),
shifted AS (
    SELECT
        t.period_grain, t.period_start,
        CAST(CASE t.period_grain
            WHEN 'week' THEN t.period_start + INTERVAL '7 days'
            WHEN 'month' THEN t.period_start + INTERVAL '1 month'
            ELSE t.period_start + INTERVAL '3 months'
        END AS DATE) AS next_start,
        CAST(CASE t.period_grain
            WHEN 'week' THEN t.period_start - INTERVAL '7 days'
            WHEN 'month' THEN t.period_start - INTERVAL '1 month'
            ELSE t.period_start - INTERVAL '3 months'
        END AS DATE) AS prev_start
    FROM touched AS t
)
SELECT 'account', period_grain, period_start FROM touched
UNION
SELECT 'score_out', period_grain, period_start FROM shifted
UNION
SELECT 'score_out', period_grain, next_start FROM shifted
UNION
SELECT 'score_in', period_grain, prev_start FROM shifted
UNION
SELECT 'score_in', period_grain, period_start FROM shifted
UNION
SELECT 'score_in', period_grain, next_start FROM shifted;
INSERT INTO ops.mart_slices (slice, period_grain, period_start)
WITH sent_days AS (
    SELECT DISTINCT CAST(i.sent_at AS DATE) AS d
    FROM ops.survey_invitations AS i
    JOIN ops.mart_changed_surveys AS c ON c.survey_id = i.survey_id
    WHERE i.sent_at IS NOT NULL AND i.sent_at < :as_of
)
SELECT 'rates', period_grain, period_start FROM ({{ inc.periods_of_days('sent_days') }}) AS p;
INSERT INTO ops.mart_slice_cells (period_grain, period_start, account_id)
SELECT period_grain, period_start, account_id FROM ({{ inc.nps_answer_cells('marts_staging.fct_survey_responses') }}) AS cells
EXCEPT
SELECT period_grain, period_start, account_id FROM ops.mart_slice_cells;
