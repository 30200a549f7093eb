-- marts.mart_nps (built in marts_staging): NPS per (period_grain, period_start, dimension,
-- dimension_value), dense over the calendar for every dimension value that ever answered NPS.
-- The grid, dimensions and interval maths are shared with mart_csat and mart_ces
-- (_score_macros.sql.j2). GREATEST/LEAST skip NULLs on both engines, so every bound is guarded
-- by n > 0. Adjusted Wald: +0.75 promoters, +0.75 detractors, +1.5 passives (n' = n + 3).
{% import '_score_macros.sql.j2' as m with context -%}
INSERT INTO marts_staging.mart_nps (
    period_grain, period_start, period_end, dimension, dimension_value, promoters, passives,
    detractors, responses, nps, nps_moe, nps_adjusted, nps_ci_lower, nps_ci_upper,
    prev_responses, prev_nps, nps_change, change_significant
)
WITH {{ m.score_grid('nps', ['promoter', 'passive', 'detractor']) }},
shares AS (
    SELECT
        counts.*,
        {{ m.share('c1') }} AS p,
        {{ m.share('c3') }} AS d,
        {{ m.adjusted_share('c1', 0.75, 3.0) }} AS pa,
        {{ m.adjusted_share('c3', 0.75, 3.0) }} AS da
    FROM counts
),
stats AS (
    SELECT
        shares.*,
        100.0 * (p - d) AS nps,
        CASE WHEN n > 0 THEN 196.0 * SQRT(GREATEST(p + d - (p - d) * (p - d), 0.0) / {{ m.dbl('n') }}) END AS moe,
        pa - da AS adj,
        CASE WHEN n > 0 THEN GREATEST(pa + da - (pa - da) * (pa - da), 0.0) / ({{ m.dbl('n') }} + 3.0) END AS adj_var
    FROM shares
)
SELECT
    {{ m.keys() }},
    s.c1, s.c2, s.c3, s.n,
    {{ m.r2('s.nps') }},
    {{ m.r2('s.moe') }},
    {{ m.r2('100.0 * s.adj') }},
    CASE WHEN s.n > 0 THEN {{ m.r2('GREATEST(-100.0, 100.0 * (s.adj - 1.96 * SQRT(s.adj_var)))') }} END,
    CASE WHEN s.n > 0 THEN {{ m.r2('LEAST(100.0, 100.0 * (s.adj + 1.96 * SQRT(s.adj_var)))') }} END,
    COALESCE(p.n, 0),
    {{ m.r2('p.nps') }},
    {{ m.r2('s.nps') }} - {{ m.r2('p.nps') }},
    CASE WHEN s.n > 0 AND p.n > 0 THEN {{ m.significant('s.adj', 'p.adj', 's.adj_var', 'p.adj_var') }} END
{{ m.with_previous_period() }};
