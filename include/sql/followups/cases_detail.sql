-- Cases with what staff emails show (grain: case_id): the account (name, ARR), the contact's name
-- and role.
-- :which selects: alert (not yet alerted, not resolved), overdue (open, past due, below the last
-- escalation level), digest (open or in progress and past due), owner_digest (open or in progress).
SELECT
    k.case_id, k.survey_id, k.account_id, a.name AS account_name, k.contact_id,
    TRIM(COALESCE(c.first_name, '') || ' ' || COALESCE(c.last_name, '')) AS contact_name,
    k.owner_name, k.owner_email, k.survey_type, k.score, k.category, k.comment, k.status, k.opened_at, k.due_at,
    k.escalation_level, k.owner_alert_key, c.role, a.arr
FROM ops.followup_cases AS k
LEFT JOIN src.accounts AS a ON a.account_id = k.account_id
LEFT JOIN src.contacts AS c ON c.contact_id = k.contact_id
WHERE (:which = 'alert' AND k.owner_alerted_at IS NULL AND k.status <> 'resolved')
   OR (:which = 'overdue' AND k.status = 'open' AND k.due_at <= :now AND k.escalation_level < :levels)
   OR (:which = 'digest' AND k.status IN ('open', 'in_progress') AND k.due_at <= :now)
   OR (:which = 'owner_digest' AND k.status IN ('open', 'in_progress') AND k.opened_at <= :now)
ORDER BY k.due_at, k.case_id
