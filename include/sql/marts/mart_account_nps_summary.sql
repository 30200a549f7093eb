-- marts.mart_account_nps_summary (built in marts_staging): one row per (period_grain,
-- period_start) of the calendar, grains month and quarter: respondent-level, account-mean and ARR-weighted NPS, and the
-- revenue coverage (ARR of active accounts that answered NPS / ARR of active accounts). Active =
-- a customer on some day of the period (ops.mart_account_spans).
INSERT INTO marts_staging.mart_account_nps_summary (
    period_grain, period_start, period_end, responses, respondents, respondents_decision_maker,
    respondents_influencer, respondents_user, accounts_responding, respondent_nps,
    account_mean_nps, arr_weighted_nps, active_accounts, active_arr, responding_arr,
    revenue_coverage_pct
)
WITH acc AS (
    SELECT
        m.period_grain, m.period_start, m.account_id, m.responses, m.respondents,
        m.respondents_decision_maker, m.respondents_influencer, m.respondents_user, m.promoters,
        m.detractors, CAST(m.arr AS DOUBLE PRECISION) AS arr,
        100.0 * CAST(m.promoters - m.detractors AS DOUBLE PRECISION) / CAST(m.responses AS DOUBLE PRECISION) AS nps,
        CASE WHEN s.account_id IS NOT NULL THEN 1 ELSE 0 END AS is_active
    FROM marts_staging.mart_account_nps AS m
    LEFT JOIN ops.mart_account_spans AS s
        ON s.account_id = m.account_id AND s.first_start < m.period_end
        AND (s.lost_on IS NULL OR s.lost_on > m.period_start)
),
resp AS (
    SELECT
        period_grain, period_start,
        CAST(SUM(responses) AS BIGINT) AS n,
        CAST(SUM(respondents) AS BIGINT) AS respondents,
        CAST(SUM(respondents_decision_maker) AS BIGINT) AS dm,
        CAST(SUM(respondents_influencer) AS BIGINT) AS inf,
        CAST(SUM(respondents_user) AS BIGINT) AS usr,
        CAST(COUNT(*) AS BIGINT) AS accounts,
        CAST(SUM(promoters - detractors) AS DOUBLE PRECISION) AS net,
        AVG(nps) AS mean_nps,
        SUM(CASE WHEN arr IS NOT NULL THEN arr * nps END) / NULLIF(SUM(arr), 0.0) AS weighted_nps,
        SUM(CASE WHEN is_active = 1 THEN arr ELSE 0.0 END) AS responding_arr
    FROM acc
    GROUP BY 1, 2
),
daily AS (
    SELECT d, SUM(acq) AS acq, SUM(acq_arr) AS acq_arr, SUM(lost) AS lost, SUM(lost_arr) AS lost_arr
    FROM (
        SELECT first_start AS d, 1 AS acq, CAST(COALESCE(arr, 0) AS DOUBLE PRECISION) AS acq_arr, 0 AS lost, 0.0 AS lost_arr
        FROM ops.mart_account_spans
        UNION ALL
        SELECT lost_on AS d, 0 AS acq, 0.0 AS acq_arr, 1 AS lost, CAST(COALESCE(arr, 0) AS DOUBLE PRECISION) AS lost_arr
        FROM ops.mart_account_spans WHERE lost_on IS NOT NULL
    ) AS x
    GROUP BY d
),
active AS (
    SELECT
        cal.period_grain, cal.period_start,
        CAST(COALESCE(SUM(CASE WHEN x.d < cal.period_end THEN x.acq ELSE 0 END)
            - SUM(CASE WHEN x.d <= cal.period_start THEN x.lost ELSE 0 END), 0) AS BIGINT) AS accounts,
        COALESCE(SUM(CASE WHEN x.d < cal.period_end THEN x.acq_arr ELSE 0.0 END)
            - SUM(CASE WHEN x.d <= cal.period_start THEN x.lost_arr ELSE 0.0 END), 0.0) AS arr
    FROM ops.mart_calendar AS cal
    LEFT JOIN daily AS x ON x.d < cal.period_end
    WHERE cal.period_grain <> 'week'
    GROUP BY 1, 2
)
SELECT
    cal.period_grain, cal.period_start, cal.period_end,
    COALESCE(r.n, 0), COALESCE(r.respondents, 0), COALESCE(r.dm, 0), COALESCE(r.inf, 0), COALESCE(r.usr, 0),
    COALESCE(r.accounts, 0),
    ROUND(CAST(100.0 * r.net / CAST(r.n AS DOUBLE PRECISION) AS DECIMAL(18, 6)), 2),
    ROUND(CAST(r.mean_nps AS DECIMAL(18, 6)), 2),
    ROUND(CAST(r.weighted_nps AS DECIMAL(18, 6)), 2),
    COALESCE(ac.accounts, 0),
    ROUND(CAST(COALESCE(ac.arr, 0.0) AS DECIMAL(18, 6)), 2),
    ROUND(CAST(COALESCE(r.responding_arr, 0.0) AS DECIMAL(18, 6)), 2),
    CASE WHEN ac.arr > 0 THEN ROUND(CAST(100.0 * COALESCE(r.responding_arr, 0.0) / ac.arr AS DECIMAL(18, 6)), 2) END
FROM ops.mart_calendar AS cal
LEFT JOIN resp AS r ON r.period_grain = cal.period_grain AND r.period_start = cal.period_start
LEFT JOIN active AS ac ON ac.period_grain = cal.period_grain AND ac.period_start = cal.period_start
WHERE cal.period_grain <> 'week';
