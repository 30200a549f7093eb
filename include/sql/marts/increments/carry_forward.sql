-- An incremental build's first step for one mart ({{ mart }}, slice kind {{ kind }}): keep the
-- base build's rows that this build does not recompute. In place (the staging schema is the
-- base: its own last build) by deleting the others; else by copying the kept rows from the
-- base (the published build). The mart's own SQL, rendered with incremental=true, then inserts
-- the recomputed rows.
{% import '_incremental_macros.sql.j2' as inc with context -%}
{%- macro recomputed(t) -%}
{%- if kind == "survey" -%}
{{ t }}.survey_id IN (SELECT survey_id FROM ops.mart_changed_surveys)
{%- elif kind == "response" -%}
{{ t }}.response_id IN (SELECT r.response_id FROM ops.raw_responses AS r
                       JOIN ops.mart_changed_surveys AS c ON c.survey_id = r.survey_id)
{%- elif kind == "score" -%}
{{ inc.is_slice(t, 'score_out') }}
{%- elif kind == "account" -%}
({{ inc.is_slice(t, 'account') }}
    OR {{ t }}.account_id IN (SELECT account_id FROM ops.mart_changed_accounts))
{%- elif kind == "rates" -%}
{{ inc.is_slice(t, 'rates') }}
{%- endif -%}
{%- endmacro -%}
{% if in_place -%}
DELETE FROM marts_staging.{{ mart }}
WHERE {{ recomputed(mart) }};
{%- else -%}
INSERT INTO marts_staging.{{ mart }}
SELECT t.*
FROM marts_base.{{ mart }} AS t
WHERE NOT {{ recomputed('t') }};
{%- endif %}
