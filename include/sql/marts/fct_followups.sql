-- marts.fct_followups (built in marts_staging): one row per counted answer's follow-up decision
-- (grain: survey_id) for answers given before :as_of: what was decided (sent, pending,
-- suppressed, not_needed, failed) and why, the case it opened, and the answer's first response
-- against its SLA. The first response is the owner acting on the case (its first move out of
-- open, due at case_due_at on the SLA clock) when the rule opens a case, else the follow-up
-- email (due at email_due_at = answer + followups.respond_within_hours). within_sla is NULL while
-- nobody has responded and the due time is still ahead of :as_of. For a case, the contact's next
-- counted answer of the same survey type after the case opened, and whether it recovered (is no
-- longer negative: not detractor, dissatisfied or high_effort).
{% import '_categories.sql.j2' as cat -%}
INSERT INTO marts_staging.fct_followups (
    as_of, survey_id, survey_type, score, category, rule, template, referral_ask, status, reason, responded_at,
    response_date, email_due_at, sent_at, changed_after_send, account_id, account_name, industry, segment, region,
    owner_name, arr, contact_id, locale, case_id, case_status, case_opened_at, case_due_at, case_first_action_at,
    case_resolved_at, escalation_level, case_overdue, needs_followup, first_response_at, response_due_at, within_sla,
    hours_to_first_response, next_responded_at, next_score, next_category, recovered
)
WITH answers AS (
    SELECT
        d.*, k.case_id, k.status AS case_status, k.opened_at AS case_opened_at, k.due_at AS case_due_at,
        k.first_action_at AS case_first_action_at, k.resolved_at AS case_resolved_at, k.escalation_level,
        CASE WHEN k.case_id IS NOT NULL THEN k.first_action_at ELSE d.sent_at END AS first_response_at,
        CASE WHEN k.case_id IS NOT NULL THEN k.due_at ELSE d.due_at END AS response_due_at,
        d.status <> 'not_needed' OR k.case_id IS NOT NULL AS needs_followup
    FROM ops.followup_decisions AS d
    LEFT JOIN ops.followup_cases AS k ON k.survey_id = d.survey_id AND k.opened_at < :as_of
    WHERE d.responded_at < :as_of
),
next_answers AS (
    SELECT a.case_id, f.responded_at, f.score, f.category,
           ROW_NUMBER() OVER (PARTITION BY a.case_id ORDER BY f.responded_at, f.response_id) AS rn
    FROM answers AS a
    JOIN marts_staging.fct_survey_responses AS f
      ON f.contact_id = a.contact_id AND f.survey_type = a.survey_type AND f.survey_id <> a.survey_id
     AND f.responded_at > a.case_opened_at
    WHERE a.case_id IS NOT NULL
)
SELECT
    :as_of, x.survey_id, x.survey_type, x.score, x.category, x.rule, x.template, x.referral_ask, x.status, x.reason,
    x.responded_at, CAST(x.responded_at AS DATE), x.due_at, x.sent_at, x.changed_after_send, x.account_id, a.name,
    a.industry, a.segment, a.region, a.owner_name, a.arr, x.contact_id, x.locale,
    x.case_id, x.case_status, x.case_opened_at, x.case_due_at, x.case_first_action_at, x.case_resolved_at,
    x.escalation_level,
    CASE WHEN x.case_id IS NOT NULL THEN x.case_status = 'open' AND x.case_due_at < :as_of END,
    x.needs_followup,
    CASE WHEN x.needs_followup THEN x.first_response_at END,
    CASE WHEN x.needs_followup THEN x.response_due_at END,
    CASE WHEN NOT x.needs_followup THEN NULL
         WHEN x.first_response_at IS NOT NULL THEN x.first_response_at <= x.response_due_at
         WHEN x.response_due_at < :as_of THEN FALSE END,
    CASE WHEN x.needs_followup AND x.first_response_at IS NOT NULL
         THEN CAST(ROUND(CAST(EXTRACT(EPOCH FROM (x.first_response_at - x.responded_at)) / 3600.0 AS DECIMAL(18, 6)), 2) AS DECIMAL(12, 2))
    END,
    n.responded_at, n.score, n.category,
    CASE WHEN n.category IS NOT NULL THEN n.category NOT IN {{ cat.sql_list(cat.NEGATIVE) }} END
FROM answers AS x
LEFT JOIN src.accounts AS a ON a.account_id = x.account_id
LEFT JOIN next_answers AS n ON n.case_id = x.case_id AND n.rn = 1;
