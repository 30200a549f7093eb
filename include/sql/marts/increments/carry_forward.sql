-- An incremental build's first step for one mart ({{ mart }}, slice kind {{ kind }}): keep the
-- base build's rows that this build does not recompute. In place (the staging schema is the
-- base: its own last build) by deleting the others; else by copying the kept rows from the
-- base (the published build). The mart's own SQL, rendered with incremental=true, then inserts
-- the recomputed rows.
{% import '_incremental_macros.sql.j2' as inc with context -%}
{% if in_place -%}
DELETE FROM marts_staging.{{ mart }}
WHERE {{ inc.recomputed(mart, kind) }};
{%- else -%}
INSERT INTO marts_staging.{{ mart }}
SELECT t.*
FROM marts_base.{{ mart }} AS t
WHERE NOT {{ inc.recomputed('t', kind) }};
{%- endif %}
