-- dispatch/mark_sent: the transport accepted one batch: the ledger rows this batch moved to
-- sending (status sending AND batch_id :batch_id) become sent with the provider's message id
-- (SendGrid's X-Message-Id, else the message's own Message-ID). Its rowcount is what was sent.
UPDATE ops.survey_invitations
SET status = 'sent', sent_at = :now, error = NULL,
    provider_message_id = COALESCE(CAST(:message_id AS VARCHAR), '<' || survey_id || '@' || :domain || '>')
WHERE status = 'sending'
  AND batch_id = :batch_id
  AND send_key IN (SELECT b.send_key FROM ops.dispatch_batches b WHERE b.batch_id = :batch_id);
