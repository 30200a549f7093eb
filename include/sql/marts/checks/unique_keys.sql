-- Audit check unique_keys: keys that occur more than once in a mart (each mart's grain).
-- One row per duplicated key; none = pass.
-- fct_survey_responses is checked on survey_id only: each of its rows is one row of
-- ops.raw_responses, whose primary key response_id determines survey_id, so unique survey_ids
-- imply unique response_ids (a second pass over 10M rows saved).
-- An incremental build checks the recomputed surveys only: the rows kept from its base build
-- were unique when published and exclude every changed survey.
SELECT 'fct_survey_responses' AS mart, survey_id AS mart_key, COUNT(*) AS copies
FROM marts_staging.fct_survey_responses
{%- if incremental %}
WHERE survey_id IN (SELECT survey_id FROM ops.mart_changed_surveys)
{%- endif %}
GROUP BY survey_id HAVING COUNT(*) > 1
UNION ALL
SELECT 'mart_nps', period_grain || '/' || CAST(period_start AS VARCHAR) || '/' || dimension || '/' || dimension_value, COUNT(*)
FROM marts_staging.mart_nps GROUP BY period_grain, period_start, dimension, dimension_value HAVING COUNT(*) > 1
UNION ALL
SELECT 'mart_csat', period_grain || '/' || CAST(period_start AS VARCHAR) || '/' || dimension || '/' || dimension_value, COUNT(*)
FROM marts_staging.mart_csat GROUP BY period_grain, period_start, dimension, dimension_value HAVING COUNT(*) > 1
UNION ALL
SELECT 'mart_ces', period_grain || '/' || CAST(period_start AS VARCHAR) || '/' || dimension || '/' || dimension_value, COUNT(*)
FROM marts_staging.mart_ces GROUP BY period_grain, period_start, dimension, dimension_value HAVING COUNT(*) > 1
UNION ALL
SELECT 'mart_response_rates', period_grain || '/' || CAST(period_start AS VARCHAR) || '/' || survey_type || '/' || industry || '/' || touchpoint, COUNT(*)
FROM marts_staging.mart_response_rates GROUP BY period_grain, period_start, survey_type, industry, touchpoint HAVING COUNT(*) > 1
UNION ALL
SELECT 'mart_account_nps', period_grain || '/' || CAST(period_start AS VARCHAR) || '/' || account_id, COUNT(*)
FROM marts_staging.mart_account_nps GROUP BY period_grain, period_start, account_id HAVING COUNT(*) > 1
UNION ALL
SELECT 'mart_account_nps_summary', period_grain || '/' || CAST(period_start AS VARCHAR), COUNT(*)
FROM marts_staging.mart_account_nps_summary GROUP BY period_grain, period_start HAVING COUNT(*) > 1
UNION ALL
SELECT 'mart_retention', period_grain || '/' || CAST(period_start AS VARCHAR), COUNT(*)
FROM marts_staging.mart_retention GROUP BY period_grain, period_start HAVING COUNT(*) > 1
UNION ALL
SELECT 'mart_churn_risk', account_id, COUNT(*)
FROM marts_staging.mart_churn_risk GROUP BY account_id HAVING COUNT(*) > 1
UNION ALL
SELECT 'fct_comment_themes', response_id || '/' || theme, COUNT(*)
FROM marts_staging.fct_comment_themes GROUP BY response_id, theme HAVING COUNT(*) > 1
UNION ALL
SELECT 'mart_comment_themes', period_grain || '/' || CAST(period_start AS VARCHAR) || '/' || survey_type || '/' || category || '/' || dimension || '/' || dimension_value || '/' || theme, COUNT(*)
FROM marts_staging.mart_comment_themes
GROUP BY period_grain, period_start, survey_type, category, dimension, dimension_value, theme HAVING COUNT(*) > 1;
