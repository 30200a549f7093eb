-- SendGrid's per-message id on webhook events (issue 14): reconciliation fills the ledger's
-- provider_message_id from it when an uncertain send is confirmed by evidence. The part before
-- the first '.' of sg_message_id is the X-Message-Id the Mail Send request answered with.
ALTER TABLE ops.email_events ADD COLUMN sg_message_id VARCHAR;
