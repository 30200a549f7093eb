-- dispatch/mark_sending (PostgreSQL): hand one batch to the transport: its ledger rows that are STILL claimed
-- become sending with the batch id and attempt time, committed BEFORE the request goes out. Its
-- rowcount says how many of the batch's invitations this attempt now owns: all of them (the usual
-- case), or fewer when another attempt took some first; then dispatch/batch_owned names them in
-- the same transaction. A row that is no longer claimed is not moved and not sent again.
-- No RETURNING: DuckDB runs an UPDATE with RETURNING as a delete and an insert (three times the
-- cost), and the rowcount answers the usual case on both engines.
-- Why a twin: the batch's keys as one array (an InitPlan over the plan's primary key), probed
-- through the ledger's primary key, whatever the statistics say: with IN (SELECT ...) the
-- planner scanned the whole ledger when batch_id looked rare (mark_sent: 126 ms against 43 ms
-- for 1,000 rows of a 98,000-row ledger), and the ledger only grows. Same rows as the .sql twin.
UPDATE ops.survey_invitations
SET status = 'sending', batch_id = :batch_id, attempt_at = :now, transport = :transport,
    attempts = COALESCE(attempts, 0) + 1
WHERE status = 'claimed'
  AND send_key = ANY (ARRAY(SELECT b.send_key FROM ops.dispatch_batches b WHERE b.batch_id = :batch_id));
