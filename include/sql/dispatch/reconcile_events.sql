-- dispatch/reconcile_events: uncertain SendGrid sends (status sending) that a webhook event in
-- ops.email_events proves SendGrid accepted become sent, one ledger row per invitation. The
-- provider message id comes from the evidence: the part of sg_message_id before the first '.'
-- is the X-Message-Id of the request that carried the message.
UPDATE ops.survey_invitations
SET status = 'sent', sent_at = COALESCE(sent_at, attempt_at), error = NULL,
    provider_message_id = COALESCE(provider_message_id, ev.message_id)
FROM (
    SELECT e.send_key, MIN(split_part(e.sg_message_id, '.', 1)) AS message_id
    FROM ops.email_events e
    WHERE e.send_key IN (
              SELECT s.send_key FROM ops.survey_invitations s
              WHERE s.interval_start = :interval_start AND s.status = 'sending' AND s.transport = 'sendgrid')
      AND e.event IN ('processed', 'deferred', 'delivered', 'bounce', 'dropped', 'open', 'click',
                      'spamreport', 'unsubscribe', 'group_unsubscribe', 'group_resubscribe')
    GROUP BY e.send_key
) AS ev
WHERE ops.survey_invitations.send_key = ev.send_key
  AND ops.survey_invitations.interval_start = :interval_start
  AND ops.survey_invitations.status = 'sending'
  AND ops.survey_invitations.transport = 'sendgrid';
