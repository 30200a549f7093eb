-- An incremental build's first step for one mart ({{ mart }}, slice kind {{ kind }}): copy the
-- published rows that this build does not recompute into the staging schema; the mart's own SQL,
-- rendered with incremental=true, then inserts the recomputed rows.
{% import '_incremental_macros.sql.j2' as inc with context -%}
INSERT INTO marts_staging.{{ mart }}
SELECT t.*
FROM marts_published.{{ mart }} AS t
{%- if kind == "survey" %}
WHERE NOT EXISTS (SELECT 1 FROM ops.mart_changed_surveys AS c WHERE c.survey_id = t.survey_id)
{%- elif kind == "response" %}
WHERE NOT EXISTS (
    SELECT 1
    FROM marts_published.fct_survey_responses AS f
    JOIN ops.mart_changed_surveys AS c ON c.survey_id = f.survey_id
    WHERE f.response_id = t.response_id
)
{%- elif kind == "score" %}
WHERE NOT {{ inc.is_slice('t', 'score_out') }}
{%- elif kind == "account" %}
WHERE NOT {{ inc.is_slice('t', 'account') }}
    AND NOT EXISTS (SELECT 1 FROM ops.mart_changed_accounts AS a WHERE a.account_id = t.account_id)
{%- elif kind == "rates" %}
WHERE NOT {{ inc.is_slice('t', 'rates') }}
{%- endif %};
