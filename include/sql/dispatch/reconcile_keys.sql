-- dispatch/reconcile_keys: uncertain sends whose message is proven delivered (the outbox file
-- exists) become sent; :keys is the list of proven send keys. One ledger row per invitation.
UPDATE ops.survey_invitations
SET status = 'sent', sent_at = COALESCE(sent_at, attempt_at),
    provider_message_id = COALESCE(provider_message_id, '<' || survey_id || '@' || :domain || '>'), error = NULL
WHERE interval_start = :interval_start
  AND status = 'sending'
  AND send_key IN (SELECT UNNEST(CAST(:keys AS VARCHAR[])));
