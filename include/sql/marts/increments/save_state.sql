-- After a build of a build schema: the account attributes, the contacts' roles, the contract
-- spans and the calendar it was made with, for the next incremental build to compare against
-- (ops.mart_build_state is written with them). An incremental build in place (its base is this
-- schema's own last build, whose snapshot is the one compared with) rewrites only the rows that
-- comparison found different (ops.mart_changed_accounts, ops.mart_slice_keys 'role' and 'span'):
-- the others are equal to the sources already (1M contacts are not copied every day).
{% if in_place -%}
DELETE FROM ops.mart_build_accounts
WHERE build_schema = :build_schema AND account_id IN (SELECT account_id FROM ops.mart_changed_accounts);
INSERT INTO ops.mart_build_accounts (build_schema, account_id, name, industry, segment, region, arr, owner_name)
SELECT :build_schema, account_id, name, industry, segment, region, arr, owner_name FROM src.accounts
WHERE account_id IN (SELECT account_id FROM ops.mart_changed_accounts);
DELETE FROM ops.mart_build_roles
WHERE build_schema = :build_schema AND contact_id IN (SELECT key FROM ops.mart_slice_keys WHERE slice = 'role');
INSERT INTO ops.mart_build_roles (build_schema, contact_id, role)
SELECT :build_schema, contact_id, role FROM src.contacts
WHERE contact_id IN (SELECT key FROM ops.mart_slice_keys WHERE slice = 'role');
DELETE FROM ops.mart_build_spans
WHERE build_schema = :build_schema AND account_id IN (SELECT key FROM ops.mart_slice_keys WHERE slice = 'span');
INSERT INTO ops.mart_build_spans (build_schema, account_id, first_start, lost_on)
SELECT :build_schema, account_id, first_start, lost_on FROM ops.mart_account_spans
WHERE account_id IN (SELECT key FROM ops.mart_slice_keys WHERE slice = 'span');
{%- else -%}
DELETE FROM ops.mart_build_accounts WHERE build_schema = :build_schema;
INSERT INTO ops.mart_build_accounts (build_schema, account_id, name, industry, segment, region, arr, owner_name)
SELECT :build_schema, account_id, name, industry, segment, region, arr, owner_name FROM src.accounts;
DELETE FROM ops.mart_build_roles WHERE build_schema = :build_schema;
INSERT INTO ops.mart_build_roles (build_schema, contact_id, role)
SELECT :build_schema, contact_id, role FROM src.contacts;
DELETE FROM ops.mart_build_spans WHERE build_schema = :build_schema;
INSERT INTO ops.mart_build_spans (build_schema, account_id, first_start, lost_on)
SELECT :build_schema, account_id, first_start, lost_on FROM ops.mart_account_spans;
{%- endif %}
DELETE FROM ops.mart_build_calendar WHERE build_schema = :build_schema;
INSERT INTO ops.mart_build_calendar (build_schema, period_grain, period_start)
SELECT :build_schema, period_grain, period_start FROM ops.mart_calendar;
