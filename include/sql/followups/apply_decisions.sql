-- ops.followup_decisions from one attempt's stage (grain: survey_id): a staged row replaces the
-- decision of its survey (keeping when it was first decided) or adds it; the stage is then emptied.
-- One upsert: no join between the stage and the decisions for the planner to misjudge.
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
ON CONFLICT (survey_id) DO UPDATE SET
    response_id = EXCLUDED.response_id, survey_type = EXCLUDED.survey_type, score = EXCLUDED.score,
    category = EXCLUDED.category, responded_at = EXCLUDED.responded_at, contact_id = EXCLUDED.contact_id,
    account_id = EXCLUDED.account_id, locale = EXCLUDED.locale, rule = EXCLUDED.rule, template = EXCLUDED.template,
    referral_ask = EXCLUDED.referral_ask, status = EXCLUDED.status, reason = EXCLUDED.reason,
    send_key = EXCLUDED.send_key, due_at = EXCLUDED.due_at, updated_at = EXCLUDED.updated_at,
    sent_at = EXCLUDED.sent_at, changed_after_send = EXCLUDED.changed_after_send, run_id = EXCLUDED.run_id;

DELETE FROM ops.followup_decisions_stage WHERE stage_id = :stage_id;
