-- ledger/reconcile_events: uncertain SendGrid sends that a webhook event in ops.email_events
-- proves SendGrid accepted become sent, with the message id taken from the evidence.
UPDATE ops.message_ledger
SET status = 'sent', sent_at = COALESCE(sent_at, attempt_at), sends = sends + 1, error = NULL,
    message_id = COALESCE(ops.message_ledger.message_id, ev.evidence_id)
FROM (
    SELECT e.send_key, MIN(split_part(e.sg_message_id, '.', 1)) AS evidence_id
    FROM ops.email_events e
    WHERE e.send_key IN (
              SELECT l.send_key FROM ops.message_ledger l
              WHERE l.scope = :scope AND l.status = 'sending' AND l.transport = 'sendgrid')
      AND e.event IN ('processed', 'deferred', 'delivered', 'bounce', 'dropped', 'open', 'click',
                      'spamreport', 'unsubscribe', 'group_unsubscribe', 'group_resubscribe')
    GROUP BY e.send_key
) AS ev
WHERE ops.message_ledger.send_key = ev.send_key
  AND ops.message_ledger.scope = :scope
  AND ops.message_ledger.status = 'sending'
  AND ops.message_ledger.transport = 'sendgrid';
