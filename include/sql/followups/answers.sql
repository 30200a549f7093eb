-- The answers that need a follow-up decision now (grain: survey_id): each survey's latest answer
-- responded before :now (the latest answer wins, as in marts.fct_survey_responses), for surveys
-- with no decision yet, whose answer changed since their decision, or whose decision is pending or
-- failed; with :since set, only surveys answered (loaded) since then plus the pending and failed.
-- Carries what the decision needs: the contact, the account and its owner, the address's
-- suppression, the decision so far and the case, if any. The category rule is the marts' own
-- (include/sql/marts/_categories.sql.j2; nps.followups.decide renders this file through Jinja2).
{% import '_categories.sql.j2' as cat -%}
WITH touched AS (
    SELECT DISTINCT survey_id FROM ops.raw_responses
    WHERE responded_at < :now AND (CAST(:since AS TIMESTAMP) IS NULL OR loaded_at >= CAST(:since AS TIMESTAMP))
    UNION
    SELECT survey_id FROM ops.followup_decisions WHERE status IN ('pending', 'failed')
),
ranked AS (
    SELECT
        r.response_id, r.survey_id, r.score, r.comment, r.responded_at, r.locale,
        ROW_NUMBER() OVER (PARTITION BY r.survey_id ORDER BY r.responded_at DESC, r.response_id DESC) AS rn
    FROM ops.raw_responses AS r
    JOIN touched AS t ON t.survey_id = r.survey_id
    WHERE r.responded_at < :now
),
suppressed AS (
    SELECT LOWER(email) AS email, MIN(reason) AS reason FROM ops.suppressions GROUP BY LOWER(email)
)
SELECT
    r.survey_id, r.response_id, i.survey_type, r.score, r.comment, r.responded_at,
    {{ cat.category('i.survey_type', 'r.score') }} AS category,
    i.contact_id, i.account_id, COALESCE(r.locale, i.locale, c.locale) AS locale,
    c.email, a.owner_name, a.owner_email,
    s.reason AS suppression,
    d.response_id AS decided_response_id, d.status AS decided_status, d.template AS decided_template,
    d.decided_at, d.changed_after_send, d.referral_ask AS decided_referral_ask, d.reason AS decided_reason,
    d.sent_at AS decided_sent_at, d.rule AS decided_rule,
    k.case_id, k.status AS case_status
FROM ranked AS r
JOIN ops.survey_invitations AS i ON i.survey_id = r.survey_id
LEFT JOIN src.contacts AS c ON c.contact_id = i.contact_id
LEFT JOIN src.accounts AS a ON a.account_id = i.account_id
LEFT JOIN suppressed AS s ON s.email = LOWER(c.email)
LEFT JOIN ops.followup_decisions AS d ON d.survey_id = r.survey_id
LEFT JOIN ops.followup_cases AS k ON k.survey_id = r.survey_id
WHERE r.rn = 1
  AND (d.survey_id IS NULL OR d.response_id <> r.response_id OR d.status IN ('pending', 'failed'))
ORDER BY r.responded_at, r.survey_id
