-- marts.mart_account_nps (built in marts_staging): one row per (period_grain, period_start,
-- account_id), grains month and quarter (a week is too short for an account-level score), for
-- accounts with at least one counted NPS answer in the period: the account's
-- NPS, mean score and respondents per role. Contacts are grouped first, so no DISTINCT counts.
-- Incremental builds recompute the (period, account) cells the changed NPS answers fall in
-- (ops.mart_slice_cells; every answer of an account whose attributes changed is a changed one).
{% import '_incremental_macros.sql.j2' as inc with context -%}
INSERT INTO marts_staging.mart_account_nps (
    period_grain, period_start, period_end, account_id, account_name, industry, segment, region,
    arr, responses, respondents, respondents_decision_maker, respondents_influencer,
    respondents_user, promoters, passives, detractors, account_nps, mean_score
)
WITH by_contact AS (
    -- One row per (period, account, contact): one scan per grain (cheaper than GROUPING SETS,
    -- which materializes its input first).
    SELECT
        'month' AS period_grain, CAST(date_trunc('month', responded_at) AS DATE) AS period_start,
        account_id, contact_id, MAX(role) AS role,
        CAST(COUNT(*) AS BIGINT) AS n,
        CAST(SUM(CASE WHEN category = 'promoter' THEN 1 ELSE 0 END) AS BIGINT) AS c1,
        CAST(SUM(CASE WHEN category = 'passive' THEN 1 ELSE 0 END) AS BIGINT) AS c2,
        CAST(SUM(CASE WHEN category = 'detractor' THEN 1 ELSE 0 END) AS BIGINT) AS c3,
        CAST(SUM(score) AS BIGINT) AS sx
    FROM marts_staging.fct_survey_responses
    WHERE survey_type = 'nps'
{%- if incremental %}
        AND responded_at >= (SELECT MIN(period_start) FROM ops.mart_slice_cells WHERE period_grain = 'month')
        AND {{ inc.in_cells("'month'", "CAST(date_trunc('month', fct_survey_responses.responded_at) AS DATE)", 'fct_survey_responses.account_id') }}
{%- endif %}
    GROUP BY 2, 3, 4
    UNION ALL
    SELECT
        'quarter' AS period_grain, CAST(date_trunc('quarter', responded_at) AS DATE) AS period_start,
        account_id, contact_id, MAX(role) AS role,
        CAST(COUNT(*) AS BIGINT) AS n,
        CAST(SUM(CASE WHEN category = 'promoter' THEN 1 ELSE 0 END) AS BIGINT) AS c1,
        CAST(SUM(CASE WHEN category = 'passive' THEN 1 ELSE 0 END) AS BIGINT) AS c2,
        CAST(SUM(CASE WHEN category = 'detractor' THEN 1 ELSE 0 END) AS BIGINT) AS c3,
        CAST(SUM(score) AS BIGINT) AS sx
    FROM marts_staging.fct_survey_responses
    WHERE survey_type = 'nps'
{%- if incremental %}
        AND responded_at >= (SELECT MIN(period_start) FROM ops.mart_slice_cells WHERE period_grain = 'quarter')
        AND {{ inc.in_cells("'quarter'", "CAST(date_trunc('quarter', fct_survey_responses.responded_at) AS DATE)", 'fct_survey_responses.account_id') }}
{%- endif %}
    GROUP BY 2, 3, 4
),
by_account AS (
    SELECT
        period_grain, period_start, account_id,
        CAST(SUM(n) AS BIGINT) AS n,
        CAST(COUNT(*) AS BIGINT) AS respondents,
        CAST(SUM(CASE WHEN role = 'decision_maker' THEN 1 ELSE 0 END) AS BIGINT) AS dm,
        CAST(SUM(CASE WHEN role = 'influencer' THEN 1 ELSE 0 END) AS BIGINT) AS inf,
        CAST(SUM(CASE WHEN role = 'user' THEN 1 ELSE 0 END) AS BIGINT) AS usr,
        CAST(SUM(c1) AS BIGINT) AS c1, CAST(SUM(c2) AS BIGINT) AS c2, CAST(SUM(c3) AS BIGINT) AS c3,
        CAST(SUM(sx) AS BIGINT) AS sx
    FROM by_contact
    GROUP BY 1, 2, 3
)
SELECT
    b.period_grain, b.period_start, cal.period_end, b.account_id, a.name, a.industry, a.segment,
    a.region, a.arr, b.n, b.respondents, b.dm, b.inf, b.usr, b.c1, b.c2, b.c3,
    ROUND(CAST(100.0 * CAST(b.c1 - b.c3 AS DOUBLE PRECISION) / CAST(b.n AS DOUBLE PRECISION) AS DECIMAL(18, 6)), 2),
    ROUND(CAST(CAST(b.sx AS DOUBLE PRECISION) / CAST(b.n AS DOUBLE PRECISION) AS DECIMAL(18, 6)), 2)
FROM by_account AS b
JOIN ops.mart_calendar AS cal ON cal.period_grain = b.period_grain AND cal.period_start = b.period_start
LEFT JOIN src.accounts AS a ON a.account_id = b.account_id;
