-- marts.mart_loop_recovery (built in marts_staging): does closing the loop recover customers?
-- Per (period_grain, period_start, survey_type, contacted_within_sla), from the cases of
-- marts.fct_followups (detractor, dissatisfied and high-effort answers, by the answer's period):
-- how the contact's next counted answer of the same survey type came out, split by whether the
-- owner acted on the case within its SLA. Cases whose SLA is still running (nobody acted, not
-- yet due) belong to neither side and are left out. Every share comes with its counts.
{% import '_categories.sql.j2' as cat -%}
INSERT INTO marts_staging.mart_loop_recovery (
    period_grain, period_start, period_end, survey_type, contacted_within_sla, cases, with_next_answer,
    next_positive, next_neutral, next_negative, recovered, recovered_pct, next_positive_pct, mean_case_score,
    mean_next_score
)
WITH base AS (
    SELECT
        CAST(date_trunc('week', responded_at) AS DATE) AS week_start,
        CAST(date_trunc('month', responded_at) AS DATE) AS month_start,
        CAST(date_trunc('quarter', responded_at) AS DATE) AS quarter_start,
        survey_type, within_sla, score, next_score, next_category
    FROM marts_staging.fct_followups
    WHERE case_id IS NOT NULL AND within_sla IS NOT NULL
),
agg AS (
    SELECT
        g.period_grain,
        CASE g.period_grain WHEN 'week' THEN b.week_start WHEN 'month' THEN b.month_start ELSE b.quarter_start END AS period_start,
        b.survey_type, b.within_sla AS contacted_within_sla,
        CAST(COUNT(*) AS BIGINT) AS cases,
        CAST(COUNT(b.next_score) AS BIGINT) AS with_next_answer,
        CAST(SUM(CASE WHEN b.next_category IN {{ cat.sql_list(cat.POSITIVE) }} THEN 1 ELSE 0 END) AS BIGINT) AS next_positive,
        CAST(SUM(CASE WHEN b.next_category IN {{ cat.sql_list(cat.NEUTRAL) }} THEN 1 ELSE 0 END) AS BIGINT) AS next_neutral,
        CAST(SUM(CASE WHEN b.next_category IN {{ cat.sql_list(cat.NEGATIVE) }} THEN 1 ELSE 0 END) AS BIGINT) AS next_negative,
        AVG(CAST(b.score AS DOUBLE PRECISION)) AS mean_case_score,
        AVG(CAST(b.next_score AS DOUBLE PRECISION)) AS mean_next_score
    FROM base AS b
    CROSS JOIN (VALUES ('week'), ('month'), ('quarter')) AS g(period_grain)
    GROUP BY 1, 2, 3, 4
)
SELECT
    a.period_grain, a.period_start, cal.period_end, a.survey_type, a.contacted_within_sla, a.cases, a.with_next_answer,
    a.next_positive, a.next_neutral, a.next_negative, a.next_positive + a.next_neutral,
    CASE WHEN a.with_next_answer > 0
         THEN ROUND(CAST(100.0 * (a.next_positive + a.next_neutral) / a.with_next_answer AS DECIMAL(18, 6)), 2) END,
    CASE WHEN a.with_next_answer > 0
         THEN ROUND(CAST(100.0 * a.next_positive / a.with_next_answer AS DECIMAL(18, 6)), 2) END,
    ROUND(CAST(a.mean_case_score AS DECIMAL(18, 6)), 2),
    ROUND(CAST(a.mean_next_score AS DECIMAL(18, 6)), 2)
FROM agg AS a
JOIN ops.mart_calendar AS cal ON cal.period_grain = a.period_grain AND cal.period_start = a.period_start;
