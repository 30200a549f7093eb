-- marts.mart_csat (built in marts_staging): CSAT (1-5) per (period_grain, period_start,
-- dimension, dimension_value), dense over the calendar. csat_pct = percent of 4-5 answers with an
-- adjusted-Wald (Agresti-Coull, +2 satisfied, +2 others) 95 percent interval; the mean with a
-- normal margin 1.96 * sd / sqrt(n). Same pre-aggregation as mart_nps.
INSERT INTO marts_staging.mart_csat (
    period_grain, period_start, period_end, dimension, dimension_value, satisfied, neutral,
    dissatisfied, responses, csat_pct, csat_pct_moe, csat_pct_ci_lower, csat_pct_ci_upper,
    csat_mean, csat_mean_moe, prev_responses, prev_csat_pct, csat_pct_change, change_significant
)
WITH agg AS (
    SELECT
        CAST(date_trunc('week', responded_at) AS DATE) AS week_start,
        CAST(date_trunc('month', responded_at) AS DATE) AS month_start,
        CAST(date_trunc('quarter', responded_at) AS DATE) AS quarter_start,
        COALESCE(industry, '(unknown)') AS industry,
        COALESCE(touchpoint, '(relationship)') AS touchpoint,
        COALESCE(segment, '(unknown)') AS segment,
        COALESCE(region, '(unknown)') AS region,
        COALESCE(role, '(unknown)') AS role,
        CAST(SUM(CASE WHEN category = 'satisfied' THEN 1 ELSE 0 END) AS BIGINT) AS c1,
        CAST(SUM(CASE WHEN category = 'neutral' THEN 1 ELSE 0 END) AS BIGINT) AS c2,
        CAST(SUM(CASE WHEN category = 'dissatisfied' THEN 1 ELSE 0 END) AS BIGINT) AS c3,
        CAST(COUNT(*) AS BIGINT) AS n,
        CAST(SUM(score) AS BIGINT) AS sx,
        CAST(SUM(score * score) AS BIGINT) AS sxx
    FROM marts_staging.fct_survey_responses
    WHERE survey_type = 'csat'
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
),
by_period AS (
    SELECT
        g.period_grain,
        CASE g.period_grain WHEN 'week' THEN a.week_start WHEN 'month' THEN a.month_start ELSE a.quarter_start END AS period_start,
        a.industry, a.touchpoint, a.segment, a.region, a.role, a.c1, a.c2, a.c3, a.n, a.sx, a.sxx
    FROM agg AS a
    CROSS JOIN (VALUES ('week'), ('month'), ('quarter')) AS g(period_grain)
),
by_dim AS (
    SELECT
        b.period_grain, b.period_start, d.dimension,
        CASE d.dimension
            WHEN 'industry' THEN b.industry WHEN 'touchpoint' THEN b.touchpoint
            WHEN 'segment' THEN b.segment WHEN 'region' THEN b.region
            WHEN 'role' THEN b.role ELSE 'all'
        END AS dimension_value,
        CAST(SUM(b.c1) AS BIGINT) AS c1, CAST(SUM(b.c2) AS BIGINT) AS c2,
        CAST(SUM(b.c3) AS BIGINT) AS c3, CAST(SUM(b.n) AS BIGINT) AS n,
        CAST(SUM(b.sx) AS BIGINT) AS sx, CAST(SUM(b.sxx) AS BIGINT) AS sxx
    FROM by_period AS b
    CROSS JOIN (VALUES ('all'), ('industry'), ('touchpoint'), ('segment'), ('region'), ('role')) AS d(dimension)
    GROUP BY 1, 2, 3, 4
),
grid AS (
    SELECT
        cal.period_grain, cal.period_start, cal.period_end, v.dimension, v.dimension_value,
        CAST(CASE cal.period_grain
            WHEN 'week' THEN cal.period_start - INTERVAL '7 days'
            WHEN 'month' THEN cal.period_start - INTERVAL '1 month'
            ELSE cal.period_start - INTERVAL '3 months'
        END AS DATE) AS prev_start
    FROM ops.mart_calendar AS cal
    JOIN (SELECT DISTINCT period_grain, dimension, dimension_value FROM by_dim) AS v
        ON v.period_grain = cal.period_grain
),
counts AS (
    SELECT
        g.period_grain, g.period_start, g.period_end, g.dimension, g.dimension_value, g.prev_start,
        COALESCE(b.c1, 0) AS c1, COALESCE(b.c2, 0) AS c2, COALESCE(b.c3, 0) AS c3, COALESCE(b.n, 0) AS n,
        COALESCE(b.sx, 0) AS sx, COALESCE(b.sxx, 0) AS sxx
    FROM grid AS g
    LEFT JOIN by_dim AS b
        ON b.period_grain = g.period_grain AND b.period_start = g.period_start
        AND b.dimension = g.dimension AND b.dimension_value = g.dimension_value
),
shares AS (
    SELECT
        counts.*,
        CASE WHEN n > 0 THEN CAST(c1 AS DOUBLE PRECISION) / CAST(n AS DOUBLE PRECISION) END AS p,
        CASE WHEN n > 0 THEN (CAST(c1 AS DOUBLE PRECISION) + 2.0) / (CAST(n AS DOUBLE PRECISION) + 4.0) END AS pa,
        CASE WHEN n > 0 THEN CAST(sx AS DOUBLE PRECISION) / CAST(n AS DOUBLE PRECISION) END AS mean,
        CASE WHEN n > 1 THEN GREATEST(CAST(sxx AS DOUBLE PRECISION)
            - CAST(sx AS DOUBLE PRECISION) * CAST(sx AS DOUBLE PRECISION) / CAST(n AS DOUBLE PRECISION), 0.0)
            / (CAST(n AS DOUBLE PRECISION) - 1.0) END AS var
    FROM counts
),
stats AS (
    SELECT
        shares.*,
        100.0 * p AS pct,
        pa * (1.0 - pa) / (CAST(n AS DOUBLE PRECISION) + 4.0) AS adj_var,
        196.0 * SQRT(pa * (1.0 - pa) / (CAST(n AS DOUBLE PRECISION) + 4.0)) AS pct_moe,
        var / CAST(n AS DOUBLE PRECISION) AS mean_var
    FROM shares
)
SELECT
    s.period_grain, s.period_start, s.period_end, s.dimension, s.dimension_value,
    s.c1, s.c2, s.c3, s.n,
    ROUND(CAST(s.pct AS DECIMAL(18, 6)), 2),
    ROUND(CAST(s.pct_moe AS DECIMAL(18, 6)), 2),
    CASE WHEN s.n > 0 THEN ROUND(CAST(GREATEST(0.0, 100.0 * s.pa - s.pct_moe) AS DECIMAL(18, 6)), 2) END,
    CASE WHEN s.n > 0 THEN ROUND(CAST(LEAST(100.0, 100.0 * s.pa + s.pct_moe) AS DECIMAL(18, 6)), 2) END,
    ROUND(CAST(s.mean AS DECIMAL(18, 6)), 2),
    ROUND(CAST(1.96 * SQRT(s.mean_var) AS DECIMAL(18, 6)), 2),
    COALESCE(p.n, 0),
    ROUND(CAST(p.pct AS DECIMAL(18, 6)), 2),
    ROUND(CAST(s.pct AS DECIMAL(18, 6)), 2) - ROUND(CAST(p.pct AS DECIMAL(18, 6)), 2),
    CASE WHEN s.n > 0 AND p.n > 0 THEN ABS(s.pa - p.pa) > 1.96 * SQRT(s.adj_var + p.adj_var) END
FROM stats AS s
LEFT JOIN stats AS p
    ON p.period_grain = s.period_grain AND p.dimension = s.dimension
    AND p.dimension_value = s.dimension_value AND p.period_start = s.prev_start;
