-- ops.mart_calendar: the periods every mart reports, one row per (period_grain,
-- period_start): every ISO week (Monday), month and quarter from the first to the last day with
-- a counted answer or a sent invitation before :as_of.
INSERT INTO ops.mart_calendar (period_grain, period_start, period_end)
WITH bounds AS (
    -- Each table's first and last day apart (no union of every row); LEAST and GREATEST skip a
    -- NULL (an empty table) on both engines.
    SELECT LEAST(f.first_day, i.first_day) AS first_day, GREATEST(f.last_day, i.last_day) AS last_day
    FROM (SELECT MIN(response_date) AS first_day, MAX(response_date) AS last_day
          FROM marts_staging.fct_survey_responses) AS f
    CROSS JOIN (SELECT CAST(MIN(sent_at) AS DATE) AS first_day, CAST(MAX(sent_at) AS DATE) AS last_day
                FROM ops.survey_invitations WHERE sent_at IS NOT NULL AND sent_at < :as_of) AS i
),
weeks AS (
    SELECT CAST(s.d AS DATE) AS period_start
    FROM generate_series(
        CAST((SELECT date_trunc('week', CAST(first_day AS TIMESTAMP)) FROM bounds) AS TIMESTAMP),
        CAST((SELECT last_day FROM bounds) AS TIMESTAMP),
        INTERVAL '7 days'
    ) AS s(d)
),
months AS (
    SELECT CAST(s.d AS DATE) AS period_start
    FROM generate_series(
        CAST((SELECT date_trunc('month', CAST(first_day AS TIMESTAMP)) FROM bounds) AS TIMESTAMP),
        CAST((SELECT last_day FROM bounds) AS TIMESTAMP),
        INTERVAL '1 month'
    ) AS s(d)
),
quarters AS (
    SELECT CAST(s.d AS DATE) AS period_start
    FROM generate_series(
        CAST((SELECT date_trunc('quarter', CAST(first_day AS TIMESTAMP)) FROM bounds) AS TIMESTAMP),
        CAST((SELECT last_day FROM bounds) AS TIMESTAMP),
        INTERVAL '3 months'
    ) AS s(d)
)
SELECT 'week', period_start, CAST(period_start + INTERVAL '7 days' AS DATE) FROM weeks
UNION ALL
SELECT 'month', period_start, CAST(period_start + INTERVAL '1 month' AS DATE) FROM months
UNION ALL
SELECT 'quarter', period_start, CAST(period_start + INTERVAL '3 months' AS DATE) FROM quarters;
