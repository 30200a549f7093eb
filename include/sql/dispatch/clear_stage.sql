-- dispatch/clear_stage: drop the staged claim keys (ops.dispatch_batches, batch_id :stage_id).
DELETE FROM ops.dispatch_batches WHERE batch_id = :stage_id;
