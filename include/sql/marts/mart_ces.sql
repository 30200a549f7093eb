-- marts.mart_ces (built in marts_staging): CES (1-7, higher = easier) per (period_grain,
-- period_start, dimension, dimension_value), dense over the calendar: the mean with a normal 95
-- percent margin 1.96 * sd / sqrt(n), and the percent of easy (5-7) answers with an adjusted-Wald
-- (Agresti-Coull) margin. Grid and maths shared with mart_nps (_score_macros.sql.j2).
{% import '_score_macros.sql.j2' as m with context -%}
INSERT INTO marts_staging.mart_ces (
    period_grain, period_start, period_end, dimension, dimension_value, easy, neutral,
    high_effort, responses, ces_mean, ces_mean_moe, ces_easy_pct, ces_easy_pct_moe,
    prev_responses, prev_ces_mean, ces_mean_change, change_significant
)
WITH {{ m.score_grid('ces', ['easy', 'neutral', 'high_effort'], moments=true) }},
{{ m.share_and_mean_stats() }}
SELECT
    {{ m.keys() }},
    s.c1, s.c2, s.c3, s.n,
    {{ m.r2('s.mean') }},
    {{ m.r2('1.96 * SQRT(s.mean_var)') }},
    {{ m.r2('s.pct') }},
    {{ m.r2('s.pct_moe') }},
    COALESCE(p.n, 0),
    {{ m.r2('p.mean') }},
    {{ m.r2('s.mean') }} - {{ m.r2('p.mean') }},
    CASE WHEN s.n > 1 AND p.n > 1 THEN {{ m.significant('s.mean', 'p.mean', 's.mean_var', 'p.mean_var') }} END
{{ m.with_previous_period() }};
