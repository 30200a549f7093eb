-- dispatch/claim_stage: the interval's selected send keys not yet in the ledger, staged in
-- ops.dispatch_batches (batch_id :stage_id), one row per invitation to claim. Staging keeps the
-- ledger read apart from the ledger insert: an anti-join inside the INSERT into the ledger can be
-- planned as a nested loop that rescans the heap it is growing (quadratic on PostgreSQL).
INSERT INTO ops.dispatch_batches (batch_id, send_key, interval_start)
SELECT CAST(:stage_id AS VARCHAR), c.send_key, c.interval_start
FROM ops.cohort_candidates c
WHERE c.interval_start = :interval_start
  AND c.reason = 'selected'
  AND NOT EXISTS (SELECT 1 FROM ops.survey_invitations i WHERE i.send_key = c.send_key)
  AND NOT EXISTS (SELECT 1 FROM ops.survey_invitations i WHERE i.survey_id = c.survey_id);
