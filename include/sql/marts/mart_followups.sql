-- marts.mart_followups (built in marts_staging): one row per counted answer's follow-up decision
-- (grain: survey_id) for answers given before :as_of: what was decided (sent, pending,
-- suppressed, not_needed, failed) and why, how long the follow-up took against its due time
-- (followups.respond_within_hours), and the case it opened, with the account's dimensions.
INSERT INTO marts_staging.mart_followups (
    as_of, survey_id, survey_type, score, category, rule, template, referral_ask, status, reason, responded_at,
    response_date, due_at, sent_at, hours_to_followup, followup_on_time, changed_after_send, account_id,
    account_name, industry, segment, region, owner_name, contact_id, locale, case_id, case_status
)
SELECT
    :as_of, d.survey_id, d.survey_type, d.score, d.category, d.rule, d.template, d.referral_ask, d.status, d.reason,
    d.responded_at, CAST(d.responded_at AS DATE), d.due_at, d.sent_at,
    CASE WHEN d.sent_at IS NOT NULL
         THEN CAST(ROUND(CAST(EXTRACT(EPOCH FROM (d.sent_at - d.responded_at)) / 3600.0 AS DECIMAL(18, 6)), 2) AS DECIMAL(12, 2))
    END,
    CASE WHEN d.status = 'sent' THEN d.sent_at <= d.due_at
         WHEN d.status = 'pending' AND d.due_at < :as_of THEN FALSE END,
    d.changed_after_send, d.account_id, a.name, a.industry, a.segment, a.region, a.owner_name, d.contact_id, d.locale,
    k.case_id, k.status
FROM ops.followup_decisions AS d
LEFT JOIN src.accounts AS a ON a.account_id = d.account_id
LEFT JOIN ops.followup_cases AS k ON k.survey_id = d.survey_id
WHERE d.responded_at < :as_of;
