-- The case events to post now (grain: event_key), oldest first: pending, failed (a rerun after a
-- fix) and sending (an answer that never came: posted again under the same event key). The
-- payload carries no address and no comment, only what a CRM needs to find and update the case.
SELECT
    e.event_key, e.status, h.case_id, h.seq, h.happened_at, h.event, h.from_status, h.to_status, h.detail,
    k.survey_id, k.account_id, k.contact_id, k.owner_name, k.survey_type, k.score, k.category,
    k.status AS case_status, k.due_at, k.escalation_level
FROM ops.crm_webhook_events AS e
JOIN ops.followup_case_history AS h ON h.case_id = e.case_id AND h.seq = e.seq
JOIN ops.followup_cases AS k ON k.case_id = e.case_id
WHERE e.status IN ('pending', 'failed', 'sending')
ORDER BY h.happened_at, e.case_id, e.seq
