-- ops.followup_decisions from one attempt's stage (grain: survey_id): staged rows replace the
-- decision of their survey (update) or add it (insert); the stage is then emptied.
UPDATE ops.followup_decisions AS d
SET response_id = s.response_id, survey_type = s.survey_type, score = s.score, category = s.category,
    responded_at = s.responded_at, contact_id = s.contact_id, account_id = s.account_id, locale = s.locale,
    rule = s.rule, template = s.template, referral_ask = s.referral_ask, status = s.status, reason = s.reason,
    send_key = s.send_key, due_at = s.due_at, updated_at = s.updated_at, sent_at = s.sent_at,
    changed_after_send = s.changed_after_send, run_id = s.run_id
FROM ops.followup_decisions_stage AS s
WHERE s.stage_id = :stage_id AND s.survey_id = d.survey_id;

INSERT INTO ops.followup_decisions (
    survey_id, response_id, survey_type, score, category, responded_at, contact_id, account_id, locale,
    rule, template, referral_ask, status, reason, send_key, due_at, decided_at, updated_at, sent_at,
    changed_after_send, run_id
)
SELECT
    s.survey_id, s.response_id, s.survey_type, s.score, s.category, s.responded_at, s.contact_id, s.account_id,
    s.locale, s.rule, s.template, s.referral_ask, s.status, s.reason, s.send_key, s.due_at, s.decided_at,
    s.updated_at, s.sent_at, s.changed_after_send, s.run_id
FROM ops.followup_decisions_stage AS s
WHERE s.stage_id = :stage_id
  AND NOT EXISTS (SELECT 1 FROM ops.followup_decisions AS d WHERE d.survey_id = s.survey_id);

DELETE FROM ops.followup_decisions_stage WHERE stage_id = :stage_id;
