-- ops.followup_decisions: pending follow-ups take the outcome the send ledger recorded for their
-- send key (grain: survey_id): sent (with the time it was accepted), failed (with the provider's
-- error), or still uncertain (sending: reconciled from evidence by a later run).
-- A DuckDB twin says it another way (mark_from_ledger.duckdb.sql), which alone takes the scope parameter.
UPDATE ops.followup_decisions AS d
SET status = 'sent', reason = 'sent', sent_at = l.sent_at, updated_at = :now
FROM ops.message_ledger AS l
WHERE l.send_key = d.send_key AND d.status = 'pending' AND l.status = 'sent';

UPDATE ops.followup_decisions AS d
SET status = 'failed', reason = 'the email provider rejected it: ' || COALESCE(l.error, 'no reason given'), updated_at = :now
FROM ops.message_ledger AS l
WHERE l.send_key = d.send_key AND d.status = 'pending' AND l.status = 'failed';

UPDATE ops.followup_decisions AS d
SET reason = 'sent, not yet confirmed: waiting for delivery evidence or the grace period', updated_at = :now
FROM ops.message_ledger AS l
WHERE l.send_key = d.send_key AND d.status = 'pending' AND l.status = 'sending';
