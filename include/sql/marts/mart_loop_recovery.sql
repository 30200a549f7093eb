-- marts.mart_loop_recovery (built in marts_staging): one row per case opened before :as_of
-- (grain: case_id). sla_met: the owner acted (first move out of open) by due_at; NULL while an
-- open case is not yet due. overdue: open or in progress and past due at :as_of. recovered: the
-- contact's next counted answer of the same survey type after the case opened is no longer
-- negative (not detractor, dissatisfied or high_effort); NULL until there is one.
INSERT INTO marts_staging.mart_loop_recovery (
    as_of, case_id, survey_id, survey_type, score, category, status, account_id, account_name, industry, segment,
    owner_name, arr, contact_id, opened_at, opened_date, due_at, first_action_at, resolved_at, escalation_level,
    sla_met, overdue, hours_to_first_action, hours_to_resolution, next_responded_at, next_score, next_category,
    recovered
)
WITH next_answers AS (
    SELECT k.case_id, f.responded_at, f.score, f.category,
           ROW_NUMBER() OVER (PARTITION BY k.case_id ORDER BY f.responded_at, f.response_id) AS rn
    FROM ops.followup_cases AS k
    JOIN marts_staging.fct_survey_responses AS f
      ON f.contact_id = k.contact_id AND f.survey_type = k.survey_type AND f.survey_id <> k.survey_id
     AND f.responded_at > k.opened_at
    WHERE k.opened_at < :as_of
)
SELECT
    :as_of, k.case_id, k.survey_id, k.survey_type, k.score, k.category, k.status, k.account_id, a.name, a.industry,
    a.segment, k.owner_name, a.arr, k.contact_id, k.opened_at, CAST(k.opened_at AS DATE), k.due_at,
    k.first_action_at, k.resolved_at, k.escalation_level,
    CASE WHEN k.first_action_at IS NOT NULL THEN k.first_action_at <= k.due_at
         WHEN k.due_at < :as_of THEN FALSE END,
    k.status IN ('open', 'in_progress') AND k.due_at < :as_of,
    CASE WHEN k.first_action_at IS NOT NULL
         THEN CAST(ROUND(CAST(EXTRACT(EPOCH FROM (k.first_action_at - k.opened_at)) / 3600.0 AS DECIMAL(18, 6)), 2) AS DECIMAL(12, 2))
    END,
    CASE WHEN k.resolved_at IS NOT NULL
         THEN CAST(ROUND(CAST(EXTRACT(EPOCH FROM (k.resolved_at - k.opened_at)) / 3600.0 AS DECIMAL(18, 6)), 2) AS DECIMAL(12, 2))
    END,
    n.responded_at, n.score, n.category,
    CASE WHEN n.category IS NOT NULL THEN n.category NOT IN ('detractor', 'dissatisfied', 'high_effort') END
FROM ops.followup_cases AS k
LEFT JOIN src.accounts AS a ON a.account_id = k.account_id
LEFT JOIN next_answers AS n ON n.case_id = k.case_id AND n.rn = 1
WHERE k.opened_at < :as_of;
