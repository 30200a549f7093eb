-- Cohort selection indexes (issue 16, PostgreSQL), from the plans of cohorts/candidates.sql on
-- 1,000,000 contacts:
-- - the transactional candidates start from the events of the rules' windows (a few days of
--   events), not from a scan of every event ever loaded;
-- - "churned" asks, per candidate, whether a contract of its account covers its cohort day.
CREATE INDEX IF NOT EXISTS touchpoint_events_occurred ON src.touchpoint_events (occurred_at);
CREATE INDEX IF NOT EXISTS contracts_account_start ON src.contracts (account_id, start_date);
