-- ops.followup_decisions: pending follow-ups take the outcome the send ledger recorded for their
-- send key (grain: survey_id): sent (with the time it was accepted), failed (with the provider's
-- error), or still uncertain (sending: reconciled from evidence by a later run).
-- The ledger rows are those of the follow-ups' scope (:scope): besides being all that can match,
-- the filter has DuckDB join the decisions to the ledger rather than the reverse, so the update
-- meets the decisions in table order (1-2 s for 66,667 decisions without it, 0.05 s with it).
UPDATE ops.followup_decisions AS d
SET status = 'sent', reason = 'sent', sent_at = l.sent_at, updated_at = :now
FROM ops.message_ledger AS l
WHERE l.send_key = d.send_key AND l.scope = :scope AND d.status = 'pending' AND l.status = 'sent';

UPDATE ops.followup_decisions AS d
SET status = 'failed', reason = 'the email provider rejected it: ' || COALESCE(l.error, 'no reason given'), updated_at = :now
FROM ops.message_ledger AS l
WHERE l.send_key = d.send_key AND l.scope = :scope AND d.status = 'pending' AND l.status = 'failed';

UPDATE ops.followup_decisions AS d
SET reason = 'sent, not yet confirmed: waiting for delivery evidence or the grace period', updated_at = :now
FROM ops.message_ledger AS l
WHERE l.send_key = d.send_key AND l.scope = :scope AND d.status = 'pending' AND l.status = 'sending';
