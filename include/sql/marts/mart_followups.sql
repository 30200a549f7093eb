-- marts.mart_followups (built in marts_staging): closing the loop per (period_grain,
-- period_start, survey_type, category, owner_name, industry), from marts.fct_followups: one row
-- per group with at least one counted answer in the period (periods of ops.mart_calendar, by
-- the answer's time). Counts add up across rows; the shares and percentiles are of the row's
-- own answers (percentiles interpolate, PERCENTILE_CONT, on both engines).
INSERT INTO marts_staging.mart_followups (
    period_grain, period_start, period_end, survey_type, category, owner_name, industry, answers,
    needing_followup, followed_up, sla_measured, within_sla, within_sla_pct, median_hours_to_first_response,
    p90_hours_to_first_response, emails_sent, cases_opened, cases_sla_measured, cases_within_sla, cases_open,
    cases_overdue, cases_escalated
)
WITH base AS (
    SELECT
        CAST(date_trunc('week', responded_at) AS DATE) AS week_start,
        CAST(date_trunc('month', responded_at) AS DATE) AS month_start,
        CAST(date_trunc('quarter', responded_at) AS DATE) AS quarter_start,
        survey_type, category, COALESCE(owner_name, '(no owner)') AS owner_name,
        COALESCE(industry, '(unknown)') AS industry, needs_followup, first_response_at, within_sla,
        CAST(hours_to_first_response AS DOUBLE PRECISION) AS hours, status, case_id, case_status, case_overdue,
        escalation_level
    FROM marts_staging.fct_followups
),
by_period AS (
    SELECT
        g.period_grain,
        CASE g.period_grain WHEN 'week' THEN b.week_start WHEN 'month' THEN b.month_start ELSE b.quarter_start END AS period_start,
        b.*
    FROM base AS b
    CROSS JOIN (VALUES ('week'), ('month'), ('quarter')) AS g(period_grain)
),
agg AS (
    SELECT
        period_grain, period_start, survey_type, category, owner_name, industry,
        CAST(COUNT(*) AS BIGINT) AS answers,
        CAST(SUM(CASE WHEN needs_followup THEN 1 ELSE 0 END) AS BIGINT) AS needing_followup,
        CAST(SUM(CASE WHEN needs_followup AND first_response_at IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS followed_up,
        CAST(SUM(CASE WHEN within_sla IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS sla_measured,
        CAST(SUM(CASE WHEN within_sla THEN 1 ELSE 0 END) AS BIGINT) AS within_sla,
        PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY hours) AS median_hours,
        PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY hours) AS p90_hours,
        CAST(SUM(CASE WHEN status = 'sent' THEN 1 ELSE 0 END) AS BIGINT) AS emails_sent,
        CAST(SUM(CASE WHEN case_id IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS cases_opened,
        CAST(SUM(CASE WHEN case_id IS NOT NULL AND within_sla IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS cases_sla_measured,
        CAST(SUM(CASE WHEN case_id IS NOT NULL AND within_sla THEN 1 ELSE 0 END) AS BIGINT) AS cases_within_sla,
        CAST(SUM(CASE WHEN case_status IN ('open', 'in_progress') THEN 1 ELSE 0 END) AS BIGINT) AS cases_open,
        CAST(SUM(CASE WHEN case_overdue THEN 1 ELSE 0 END) AS BIGINT) AS cases_overdue,
        CAST(SUM(CASE WHEN escalation_level > 0 THEN 1 ELSE 0 END) AS BIGINT) AS cases_escalated
    FROM by_period
    GROUP BY period_grain, period_start, survey_type, category, owner_name, industry
)
SELECT
    a.period_grain, a.period_start, cal.period_end, a.survey_type, a.category, a.owner_name, a.industry, a.answers,
    a.needing_followup, a.followed_up, a.sla_measured, a.within_sla,
    CASE WHEN a.sla_measured > 0
         THEN ROUND(CAST(100.0 * a.within_sla / a.sla_measured AS DECIMAL(18, 6)), 2) END,
    ROUND(CAST(a.median_hours AS DECIMAL(18, 6)), 2),
    ROUND(CAST(a.p90_hours AS DECIMAL(18, 6)), 2),
    a.emails_sent, a.cases_opened, a.cases_sla_measured, a.cases_within_sla, a.cases_open, a.cases_overdue,
    a.cases_escalated
FROM agg AS a
JOIN ops.mart_calendar AS cal ON cal.period_grain = a.period_grain AND cal.period_start = a.period_start;
