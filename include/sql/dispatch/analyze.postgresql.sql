-- dispatch/analyze (PostgreSQL): refresh planner statistics of the ledger and the send plan after
-- a large claim, so the per-batch updates use the primary keys instead of scanning the ledger.
ANALYZE ops.survey_invitations;
ANALYZE ops.dispatch_batches;
