-- ops.crm_webhook_events: every case history row not yet known to the webhook ledger becomes a
-- pending event (grain: event_key = case/<case_id>/<seq>).
INSERT INTO ops.crm_webhook_events (event_key, case_id, seq, status, attempts, claimed_at, run_id)
SELECT 'case/' || h.case_id || '/' || CAST(h.seq AS VARCHAR), h.case_id, h.seq, 'pending', 0, :now, :run_id
FROM ops.followup_case_history AS h
WHERE NOT EXISTS (
    SELECT 1 FROM ops.crm_webhook_events AS e WHERE e.case_id = h.case_id AND e.seq = h.seq
)
