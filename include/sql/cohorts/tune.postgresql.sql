-- cohorts/tune (PostgreSQL): for the selection transaction: sorts and hashes of ~100,000
-- candidates in memory (the default 4MB work_mem sent them to disk), and statistics of the run's
-- calendar and rules, loaded a moment ago in this transaction (without them the planner assumed
-- one row each). JIT off: compiling this statement's expressions cost more (~0.6 s) than it saved.
SET LOCAL work_mem = '64MB';
SET LOCAL jit = off;
ANALYZE ops.cohort_days;
ANALYZE ops.cohort_rules;
