-- Incremental marts (issue 16): which build an incremental build started from. The BI snapshot
-- of a DuckDB warehouse (nps.bi) follows an in-place build by applying the same changes to its
-- own copy of that build schema, but only when the copy holds exactly the base build: the base
-- build's schema and built_at identify it. NULL for a full build. Runs on DuckDB and PostgreSQL.
ALTER TABLE ops.mart_build_state ADD COLUMN base_schema VARCHAR;
ALTER TABLE ops.mart_build_state ADD COLUMN base_built_at TIMESTAMP;
