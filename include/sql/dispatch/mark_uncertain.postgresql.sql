-- dispatch/mark_uncertain (PostgreSQL): one batch's outcome is unknown (e.g. a timeout): the ledger rows this
-- batch moved stay sending, with the error, for reconciliation to decide.
-- Why a twin: the batch's keys as one array (an InitPlan over the plan's primary key), probed
-- through the ledger's primary key, whatever the statistics say: with IN (SELECT ...) the
-- planner scanned the whole ledger when batch_id looked rare (mark_sent: 126 ms against 43 ms
-- for 1,000 rows of a 98,000-row ledger), and the ledger only grows. Same rows as the .sql twin.
UPDATE ops.survey_invitations
SET error = :error
WHERE status = 'sending'
  AND batch_id = :batch_id
  AND send_key = ANY (ARRAY(SELECT b.send_key FROM ops.dispatch_batches b WHERE b.batch_id = :batch_id));
