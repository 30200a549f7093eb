-- marts.mart_csat (built in marts_staging): CSAT (1-5) per (period_grain, period_start,
-- dimension, dimension_value), dense over the calendar. csat_pct = percent of 4-5 answers with an
-- adjusted-Wald (Agresti-Coull, +2 satisfied, +2 others) 95 percent interval; the mean with a
-- normal margin 1.96 * sd / sqrt(n). Grid and maths shared with mart_nps (_score_macros.sql.j2).
{% import '_score_macros.sql.j2' as m with context -%}
INSERT INTO marts_staging.mart_csat (
    period_grain, period_start, period_end, dimension, dimension_value, satisfied, neutral,
    dissatisfied, responses, csat_pct, csat_pct_moe, csat_pct_ci_lower, csat_pct_ci_upper,
    csat_mean, csat_mean_moe, prev_responses, prev_csat_pct, csat_pct_change, change_significant
)
WITH {{ m.score_grid('csat', ['satisfied', 'neutral', 'dissatisfied'], moments=true) }},
{{ m.share_and_mean_stats() }}
SELECT
    {{ m.keys() }},
    s.c1, s.c2, s.c3, s.n,
    {{ m.r2('s.pct') }},
    {{ m.r2('s.pct_moe') }},
    CASE WHEN s.n > 0 THEN {{ m.r2('GREATEST(0.0, 100.0 * s.pa - s.pct_moe)') }} END,
    CASE WHEN s.n > 0 THEN {{ m.r2('LEAST(100.0, 100.0 * s.pa + s.pct_moe)') }} END,
    {{ m.r2('s.mean') }},
    {{ m.r2('1.96 * SQRT(s.mean_var)') }},
    COALESCE(p.n, 0),
    {{ m.r2('p.pct') }},
    {{ m.r2('s.pct') }} - {{ m.r2('p.pct') }},
    CASE WHEN s.n > 0 AND p.n > 0 THEN {{ m.significant('s.pa', 'p.pa', 's.adj_var', 'p.adj_var') }} END
{{ m.with_previous_period() }};
