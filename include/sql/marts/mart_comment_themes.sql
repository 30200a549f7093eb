-- marts.mart_comment_themes (built in marts_staging): one row per (period_grain, period_start,
-- survey_type, category, dimension, dimension_value, theme) for every cell with comments and every
-- configured theme: how many non-empty comments the cell has and how many mention the theme.
-- Grains month and quarter; dimensions all, industry, segment.
-- Incremental builds recompute the months and quarters of ops.mart_slices 'account' (the periods
-- the changed answers fall in): a cell counts the comments of its own period only.
{% import '_incremental_macros.sql.j2' as inc with context -%}
INSERT INTO marts_staging.mart_comment_themes (
    period_grain, period_start, period_end, survey_type, category, dimension, dimension_value,
    theme, comments, theme_comments, theme_share_pct
)
WITH grains AS (
    SELECT period_grain FROM (VALUES ('month'), ('quarter')) AS g(period_grain)
),
dims AS (
    SELECT dimension FROM (VALUES ('all'), ('industry'), ('segment')) AS d(dimension)
),
cells AS (
    SELECT
        g.period_grain,
        CASE g.period_grain
            WHEN 'month' THEN CAST(date_trunc('month', f.responded_at) AS DATE)
            ELSE CAST(date_trunc('quarter', f.responded_at) AS DATE)
        END AS period_start,
        f.survey_type, f.category, d.dimension,
        CASE d.dimension
            WHEN 'industry' THEN COALESCE(f.industry, '(unknown)')
            WHEN 'segment' THEN COALESCE(f.segment, '(unknown)')
            ELSE 'all'
        END AS dimension_value,
        CAST(COUNT(*) AS BIGINT) AS comments
    FROM marts_staging.fct_survey_responses AS f
    CROSS JOIN grains AS g
    CROSS JOIN dims AS d
    WHERE f.comment IS NOT NULL AND trim(f.comment) <> ''
{%- if incremental %}
        AND ({{ inc.in_period('f.responded_at', 'account', 'month') }}
            OR {{ inc.in_period('f.responded_at', 'account', 'quarter') }})
{%- endif %}
    GROUP BY 1, 2, 3, 4, 5, 6
),
tagged AS (
    SELECT
        g.period_grain,
        CASE g.period_grain
            WHEN 'month' THEN CAST(date_trunc('month', t.responded_at) AS DATE)
            ELSE CAST(date_trunc('quarter', t.responded_at) AS DATE)
        END AS period_start,
        t.survey_type, t.category, d.dimension,
        CASE d.dimension
            WHEN 'industry' THEN COALESCE(t.industry, '(unknown)')
            WHEN 'segment' THEN COALESCE(t.segment, '(unknown)')
            ELSE 'all'
        END AS dimension_value,
        t.theme,
        CAST(COUNT(*) AS BIGINT) AS theme_comments
    FROM marts_staging.fct_comment_themes AS t
    CROSS JOIN grains AS g
    CROSS JOIN dims AS d
{%- if incremental %}
    WHERE {{ inc.in_period('t.responded_at', 'account', 'month') }}
        OR {{ inc.in_period('t.responded_at', 'account', 'quarter') }}
{%- endif %}
    GROUP BY 1, 2, 3, 4, 5, 6, 7
),
themes AS (
    SELECT DISTINCT theme FROM ops.mart_theme_keywords
)
SELECT
    c.period_grain, c.period_start, cal.period_end, c.survey_type, c.category, c.dimension,
    c.dimension_value, th.theme, c.comments, COALESCE(t.theme_comments, 0),
    ROUND(CAST(100.0 * CAST(COALESCE(t.theme_comments, 0) AS DOUBLE PRECISION) / CAST(c.comments AS DOUBLE PRECISION) AS DECIMAL(18, 6)), 2)
FROM cells AS c
JOIN ops.mart_calendar AS cal ON cal.period_grain = c.period_grain AND cal.period_start = c.period_start
CROSS JOIN themes AS th
LEFT JOIN tagged AS t
    ON t.period_grain = c.period_grain AND t.period_start = c.period_start
    AND t.survey_type = c.survey_type AND t.category = c.category AND t.dimension = c.dimension
    AND t.dimension_value = c.dimension_value AND t.theme = th.theme
{%- if incremental %}
WHERE {{ inc.is_slice('c', 'account') }}
{%- endif %};
