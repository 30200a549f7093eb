-- dispatch/drop_plan: an attempt is over: remove ITS send plan (batch ids :attempt_prefix%), one
-- row per planned invitation. The ledger keeps the batch id of every row it sent.
DELETE FROM ops.dispatch_batches
WHERE interval_start = :interval_start
  AND batch_id LIKE :attempt_prefix;
