-- marts.mart_response_rates (built in marts_staging): one row per (period_grain, period_start,
-- survey_type, industry, touchpoint), by the period the invitation was sent in. An invitation is
-- answered when it has a counted answer; delivered when answered, or a delivered/open/click event
-- or delivery_status says so and it did not bounce; bounced when a bounce/dropped event or
-- delivery_status says so and it was never answered.
-- Incremental builds recount the send periods of ops.mart_slices 'rates' only.
{% import '_incremental_macros.sql.j2' as inc with context -%}
INSERT INTO marts_staging.mart_response_rates (
    period_grain, period_start, period_end, survey_type, industry, touchpoint, invitations_sent,
    delivered, bounced, answered, response_rate_pct, response_rate_delivered_pct
)
WITH ev AS (
    SELECT
        send_key AS k,
        MAX(CASE WHEN event IN ('bounce', 'dropped') THEN 1 ELSE 0 END) AS bounced,
        MAX(CASE WHEN event IN ('delivered', 'open', 'click') THEN 1 ELSE 0 END) AS delivered
    FROM ops.email_events
    WHERE send_key IS NOT NULL AND occurred_at < :as_of
    GROUP BY send_key
),
ev_by_survey AS (
    SELECT
        survey_id AS k,
        MAX(CASE WHEN event IN ('bounce', 'dropped') THEN 1 ELSE 0 END) AS bounced,
        MAX(CASE WHEN event IN ('delivered', 'open', 'click') THEN 1 ELSE 0 END) AS delivered
    FROM ops.email_events
    WHERE send_key IS NULL AND survey_id IS NOT NULL AND occurred_at < :as_of
    GROUP BY survey_id
),
inv AS (
    SELECT
        CAST(date_trunc('week', i.sent_at) AS DATE) AS week_start,
        CAST(date_trunc('month', i.sent_at) AS DATE) AS month_start,
        CAST(date_trunc('quarter', i.sent_at) AS DATE) AS quarter_start,
        i.survey_type,
        COALESCE(a.industry, '(unknown)') AS industry,
        COALESCE(i.touchpoint, '(relationship)') AS touchpoint,
        CASE WHEN f.survey_id IS NOT NULL THEN 1 ELSE 0 END AS answered,
        CASE
            WHEN f.survey_id IS NOT NULL THEN 0
            WHEN i.delivery_status IN ('bounce', 'dropped') OR e1.bounced = 1 OR e2.bounced = 1 THEN 1
            ELSE 0
        END AS bounced,
        CASE
            WHEN f.survey_id IS NOT NULL THEN 1
            WHEN i.delivery_status IN ('bounce', 'dropped') OR e1.bounced = 1 OR e2.bounced = 1 THEN 0
            WHEN i.delivery_status = 'delivered' OR e1.delivered = 1 OR e2.delivered = 1 THEN 1
            ELSE 0
        END AS delivered
    FROM ops.survey_invitations AS i
    LEFT JOIN src.accounts AS a ON a.account_id = i.account_id
{%- if incremental %}
    -- a fact row carries its invitation's sent_at (a changed sent_at makes the survey a changed one)
    LEFT JOIN (SELECT survey_id FROM marts_staging.fct_survey_responses
               WHERE {{ inc.in_any_period('sent_at', 'rates') }}) AS f ON f.survey_id = i.survey_id
{%- else %}
    LEFT JOIN marts_staging.fct_survey_responses AS f ON f.survey_id = i.survey_id
{%- endif %}
    LEFT JOIN ev AS e1 ON e1.k = i.send_key
    LEFT JOIN ev_by_survey AS e2 ON e2.k = i.survey_id
    WHERE i.sent_at IS NOT NULL AND i.sent_at < :as_of
{%- if incremental %}
        AND {{ inc.in_any_period('i.sent_at', 'rates') }}
{%- endif %}
),
agg AS (
    SELECT
        week_start, month_start, quarter_start, survey_type, industry, touchpoint,
        CAST(COUNT(*) AS BIGINT) AS sent, CAST(SUM(delivered) AS BIGINT) AS delivered,
        CAST(SUM(bounced) AS BIGINT) AS bounced, CAST(SUM(answered) AS BIGINT) AS answered
    FROM inv
    GROUP BY 1, 2, 3, 4, 5, 6
),
by_period AS (
    SELECT
        g.period_grain,
        CASE g.period_grain WHEN 'week' THEN a.week_start WHEN 'month' THEN a.month_start ELSE a.quarter_start END AS period_start,
        a.survey_type, a.industry, a.touchpoint,
        CAST(SUM(a.sent) AS BIGINT) AS sent, CAST(SUM(a.delivered) AS BIGINT) AS delivered,
        CAST(SUM(a.bounced) AS BIGINT) AS bounced, CAST(SUM(a.answered) AS BIGINT) AS answered
    FROM agg AS a
    CROSS JOIN (VALUES ('week'), ('month'), ('quarter')) AS g(period_grain)
    GROUP BY 1, 2, 3, 4, 5
)
SELECT
    b.period_grain, b.period_start, cal.period_end, b.survey_type, b.industry, b.touchpoint,
    b.sent, b.delivered, b.bounced, b.answered,
    ROUND(CAST(100.0 * CAST(b.answered AS DOUBLE PRECISION) / CAST(b.sent AS DOUBLE PRECISION) AS DECIMAL(18, 6)), 2),
    CASE WHEN b.delivered > 0 THEN
        ROUND(CAST(100.0 * CAST(b.answered AS DOUBLE PRECISION) / CAST(b.delivered AS DOUBLE PRECISION) AS DECIMAL(18, 6)), 2)
    END
FROM by_period AS b
JOIN ops.mart_calendar AS cal ON cal.period_grain = b.period_grain AND cal.period_start = b.period_start
{%- if incremental %}
WHERE {{ inc.is_slice('b', 'rates') }}
{%- endif %};
