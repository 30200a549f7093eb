-- dispatch/reconcile_events: uncertain SendGrid sends (status sending) that a webhook event in
-- ops.email_events proves SendGrid accepted become sent; one ledger row per invitation.
UPDATE ops.survey_invitations
SET status = 'sent', sent_at = COALESCE(sent_at, attempt_at), error = NULL
WHERE interval_start = :interval_start
  AND status = 'sending'
  AND transport = 'sendgrid'
  AND send_key IN (
      SELECT e.send_key FROM ops.email_events e
      WHERE e.send_key IS NOT NULL
        AND e.event IN ('processed', 'deferred', 'delivered', 'bounce', 'dropped', 'open', 'click',
                        'spamreport', 'unsubscribe', 'group_unsubscribe', 'group_resubscribe')
  );
