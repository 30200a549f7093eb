-- ledger/clear_stage: drop one call's staged keys.
DELETE FROM ops.message_ledger_stage WHERE stage_id = :stage_id;
