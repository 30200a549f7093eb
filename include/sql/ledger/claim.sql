-- ledger/claim: send keys of this call that the ledger does not know yet become claimed.
-- The keys arrive in ops.message_ledger_stage (stage_id :stage_id); a key already in the ledger,
-- whatever its status, is left alone (sent stays sent: exactly once). Known keys leave the stage
-- first, then the rest is inserted: an INSERT ... WHERE NOT EXISTS over the ledger it inserts
-- into, planned from an empty ledger's statistics, made PostgreSQL scan the growing ledger once
-- per key (98 s for a first send of 66,667 follow-ups).
DELETE FROM ops.message_ledger_stage AS s
WHERE s.stage_id = :stage_id
  AND EXISTS (SELECT 1 FROM ops.message_ledger l WHERE l.send_key = s.send_key);

INSERT INTO ops.message_ledger (send_key, kind, scope, recipient_hash, status, run_id, claimed_at, attempts, sends)
SELECT s.send_key, s.kind, s.scope, s.recipient_hash, 'claimed', :run_id, :now, 0, 0
FROM ops.message_ledger_stage s
WHERE s.stage_id = :stage_id;
