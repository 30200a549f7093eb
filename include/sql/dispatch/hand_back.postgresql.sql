-- dispatch/hand_back (PostgreSQL): one batch was committed sending but never handed to the transport (the
-- request before it was not accepted, or the attempt stopped first): the ledger rows this batch
-- moved go back to claimed, certainly not sent, and the attempt it was counted for is taken back.
-- Why a twin: the batch's keys as one array (an InitPlan over the plan's primary key), probed
-- through the ledger's primary key, whatever the statistics say: with IN (SELECT ...) the
-- planner scanned the whole ledger when batch_id looked rare (mark_sent: 126 ms against 43 ms
-- for 1,000 rows of a 98,000-row ledger), and the ledger only grows. Same rows as the .sql twin.
UPDATE ops.survey_invitations
SET status = 'claimed', attempts = attempts - 1
WHERE status = 'sending'
  AND batch_id = :batch_id
  AND send_key = ANY (ARRAY(SELECT b.send_key FROM ops.dispatch_batches b WHERE b.batch_id = :batch_id));
