-- After a build of a build schema: the account attributes and the calendar it was made with, for
-- the next incremental build to compare against (ops.mart_build_state is written with them).
DELETE FROM ops.mart_build_accounts WHERE build_schema = :build_schema;
INSERT INTO ops.mart_build_accounts (build_schema, account_id, name, industry, segment, region, arr, owner_name)
SELECT :build_schema, account_id, name, industry, segment, region, arr, owner_name FROM src.accounts;
DELETE FROM ops.mart_build_calendar WHERE build_schema = :build_schema;
INSERT INTO ops.mart_build_calendar (build_schema, period_grain, period_start)
SELECT :build_schema, period_grain, period_start FROM ops.mart_calendar;
