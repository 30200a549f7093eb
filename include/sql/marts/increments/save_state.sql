-- After a build of a build schema: the account attributes, the contacts' roles, the contract
-- spans and the calendar it was made with, for the next incremental build to compare against
-- (ops.mart_build_state is written with them).
DELETE FROM ops.mart_build_accounts WHERE build_schema = :build_schema;
INSERT INTO ops.mart_build_accounts (build_schema, account_id, name, industry, segment, region, arr, owner_name)
SELECT :build_schema, account_id, name, industry, segment, region, arr, owner_name FROM src.accounts;
DELETE FROM ops.mart_build_roles WHERE build_schema = :build_schema;
INSERT INTO ops.mart_build_roles (build_schema, contact_id, role)
SELECT :build_schema, contact_id, role FROM src.contacts;
DELETE FROM ops.mart_build_spans WHERE build_schema = :build_schema;
INSERT INTO ops.mart_build_spans (build_schema, account_id, first_start, lost_on)
SELECT :build_schema, account_id, first_start, lost_on FROM ops.mart_account_spans;
DELETE FROM ops.mart_build_calendar WHERE build_schema = :build_schema;
INSERT INTO ops.mart_build_calendar (build_schema, period_grain, period_start)
SELECT :build_schema, period_grain, period_start FROM ops.mart_calendar;
