-- marts.mart_retention (built in marts_staging): one row per (period_grain, period_start) of the
-- calendar. Customers on day D = accounts with first_start <= D and lost_on NULL or after D
-- (ops.mart_account_spans). At start = customers on the day before the period; acquired =
-- first contract started in the period; lost = last contract ended in the period; at end =
-- at start + acquired - lost. Retention = (at end - acquired) / at start, churn = lost / at start
-- (DOMAIN.md section 1). Then, for accounts that answered NPS in the period and were customers
-- at its end, the churn in the following period by the category of their latest answer.
-- Incremental builds recompute the periods of ops.mart_slices 'retention' (the touched periods,
-- and those a changed contract span moves: increments/account_slices.sql).
{% import '_incremental_macros.sql.j2' as inc with context -%}
INSERT INTO marts_staging.mart_retention (
    period_grain, period_start, period_end, customers_at_start, customers_acquired,
    customers_lost, customers_at_end, retention_rate_pct, churn_rate_pct, promoter_accounts,
    promoter_churned_next, promoter_churn_next_pct, passive_accounts, passive_churned_next,
    passive_churn_next_pct, detractor_accounts, detractor_churned_next, detractor_churn_next_pct
)
WITH daily AS (
    SELECT d, SUM(acq) AS acq, SUM(lost) AS lost
    FROM (
        SELECT first_start AS d, 1 AS acq, 0 AS lost FROM ops.mart_account_spans
        UNION ALL
        SELECT lost_on AS d, 0 AS acq, 1 AS lost FROM ops.mart_account_spans WHERE lost_on IS NOT NULL
    ) AS x
    GROUP BY d
),
flows AS (
    SELECT
        cal.period_grain, cal.period_start,
        CAST(COALESCE(SUM(CASE WHEN x.d < cal.period_start THEN x.acq - x.lost ELSE 0 END), 0) AS BIGINT) AS at_start,
        CAST(COALESCE(SUM(CASE WHEN x.d >= cal.period_start THEN x.acq ELSE 0 END), 0) AS BIGINT) AS acquired,
        CAST(COALESCE(SUM(CASE WHEN x.d >= cal.period_start THEN x.lost ELSE 0 END), 0) AS BIGINT) AS lost
    FROM ops.mart_calendar AS cal
    LEFT JOIN daily AS x ON x.d < cal.period_end
{%- if incremental %}
    WHERE {{ inc.is_slice('cal', 'retention') }}
{%- endif %}
    GROUP BY 1, 2
),
ranked AS (
    -- The category of the account's latest NPS answer per period, without a window function:
    -- the maximum of (whole seconds since the epoch x 4 + category code) sorts by time, and its
    -- remainder mod 4 is the category (answers in the same second: the better category wins).
    -- One pass over the answers for the three grains (GROUPING SETS).
    SELECT
        CASE WHEN GROUPING(week_start) = 0 THEN 'week' WHEN GROUPING(month_start) = 0 THEN 'month' ELSE 'quarter' END AS period_grain,
        COALESCE(week_start, month_start, quarter_start) AS period_start,
        account_id,
        CASE MOD(MAX(k), 4) WHEN 2 THEN 'promoter' WHEN 1 THEN 'passive' ELSE 'detractor' END AS category
    FROM (
        SELECT
            CAST(date_trunc('week', responded_at) AS DATE) AS week_start,
            CAST(date_trunc('month', responded_at) AS DATE) AS month_start,
            CAST(date_trunc('quarter', responded_at) AS DATE) AS quarter_start,
            account_id,
            CAST(FLOOR(EXTRACT(EPOCH FROM responded_at)) AS BIGINT) * 4
                + CASE category WHEN 'promoter' THEN 2 WHEN 'passive' THEN 1 ELSE 0 END AS k
        FROM marts_staging.fct_survey_responses
        WHERE survey_type = 'nps'
{%- if incremental %}
            AND {{ inc.in_any_period('responded_at', 'retention') }}
{%- endif %}
    ) AS x
    GROUP BY GROUPING SETS ((week_start, account_id), (month_start, account_id), (quarter_start, account_id))
),
by_category AS (
    SELECT
        r.period_grain, r.period_start,
        CAST(SUM(CASE WHEN r.category = 'promoter' THEN 1 ELSE 0 END) AS BIGINT) AS pro,
        CAST(SUM(CASE WHEN r.category = 'promoter' AND s.lost_on < nx.period_end THEN 1 ELSE 0 END) AS BIGINT) AS pro_lost,
        CAST(SUM(CASE WHEN r.category = 'passive' THEN 1 ELSE 0 END) AS BIGINT) AS pas,
        CAST(SUM(CASE WHEN r.category = 'passive' AND s.lost_on < nx.period_end THEN 1 ELSE 0 END) AS BIGINT) AS pas_lost,
        CAST(SUM(CASE WHEN r.category = 'detractor' THEN 1 ELSE 0 END) AS BIGINT) AS det,
        CAST(SUM(CASE WHEN r.category = 'detractor' AND s.lost_on < nx.period_end THEN 1 ELSE 0 END) AS BIGINT) AS det_lost
    FROM ranked AS r
    JOIN ops.mart_calendar AS cal ON cal.period_grain = r.period_grain AND cal.period_start = r.period_start
    JOIN ops.mart_account_spans AS s
        ON s.account_id = r.account_id AND s.first_start < cal.period_end
        AND (s.lost_on IS NULL OR s.lost_on >= cal.period_end)
    LEFT JOIN (
        SELECT period_grain, period_start,
            CAST(CASE period_grain
                WHEN 'week' THEN period_start + INTERVAL '14 days'
                WHEN 'month' THEN period_start + INTERVAL '2 months'
                ELSE period_start + INTERVAL '6 months'
            END AS DATE) AS period_end
        FROM ops.mart_calendar
    ) AS nx ON nx.period_grain = r.period_grain AND nx.period_start = r.period_start
{%- if incremental %}
    -- a row's other grains' groups hold only the sliced periods' answers: complete only when sliced
    WHERE {{ inc.is_slice('r', 'retention') }}
{%- endif %}
    GROUP BY 1, 2
)
SELECT
    f.period_grain, f.period_start, cal.period_end, f.at_start, f.acquired, f.lost,
    f.at_start + f.acquired - f.lost,
    CASE WHEN f.at_start > 0 THEN ROUND(CAST(100.0 * CAST(f.at_start - f.lost AS DOUBLE PRECISION) / CAST(f.at_start AS DOUBLE PRECISION) AS DECIMAL(18, 6)), 2) END,
    CASE WHEN f.at_start > 0 THEN ROUND(CAST(100.0 * CAST(f.lost AS DOUBLE PRECISION) / CAST(f.at_start AS DOUBLE PRECISION) AS DECIMAL(18, 6)), 2) END,
    COALESCE(b.pro, 0), COALESCE(b.pro_lost, 0),
    CASE WHEN b.pro > 0 THEN ROUND(CAST(100.0 * CAST(b.pro_lost AS DOUBLE PRECISION) / CAST(b.pro AS DOUBLE PRECISION) AS DECIMAL(18, 6)), 2) END,
    COALESCE(b.pas, 0), COALESCE(b.pas_lost, 0),
    CASE WHEN b.pas > 0 THEN ROUND(CAST(100.0 * CAST(b.pas_lost AS DOUBLE PRECISION) / CAST(b.pas AS DOUBLE PRECISION) AS DECIMAL(18, 6)), 2) END,
    COALESCE(b.det, 0), COALESCE(b.det_lost, 0),
    CASE WHEN b.det > 0 THEN ROUND(CAST(100.0 * CAST(b.det_lost AS DOUBLE PRECISION) / CAST(b.det AS DOUBLE PRECISION) AS DECIMAL(18, 6)), 2) END
FROM flows AS f
JOIN ops.mart_calendar AS cal ON cal.period_grain = f.period_grain AND cal.period_start = f.period_start
LEFT JOIN by_category AS b ON b.period_grain = f.period_grain AND b.period_start = f.period_start;
