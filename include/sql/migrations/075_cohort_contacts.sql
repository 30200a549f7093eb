-- Cohort contacts (issue 16, DuckDB; PostgreSQL runs 075_cohort_contacts.postgresql.sql, a table
-- kept current by triggers). The same columns as a view: DuckDB joins a million contacts with
-- their accounts and stored slots in a fraction of a second, and has no triggers.
-- ops.cohort_contacts: one row per contact of src.contacts with its account's industry (NULL
-- while the account is not loaded) and its slot hash (ops.contact_slots; a contact missing from
-- it, since nps.cohorts refreshes it only when the counts differ, is hashed here by the same
-- expression: COALESCE evaluates it for those rows only).
CREATE VIEW ops.cohort_contacts AS
SELECT c.contact_id, c.account_id, a.industry, c.role, c.locale, c.consent, c.email, c.created_at,
       COALESCE(s.slot_hash,
           (POSITION(SUBSTR(MD5(c.contact_id), 1, 1) IN '0123456789abcdef') - 1) * 1048576
         + (POSITION(SUBSTR(MD5(c.contact_id), 2, 1) IN '0123456789abcdef') - 1) * 65536
         + (POSITION(SUBSTR(MD5(c.contact_id), 3, 1) IN '0123456789abcdef') - 1) * 4096
         + (POSITION(SUBSTR(MD5(c.contact_id), 4, 1) IN '0123456789abcdef') - 1) * 256
         + (POSITION(SUBSTR(MD5(c.contact_id), 5, 1) IN '0123456789abcdef') - 1) * 16
         + (POSITION(SUBSTR(MD5(c.contact_id), 6, 1) IN '0123456789abcdef') - 1)) AS slot_hash
FROM src.contacts c
LEFT JOIN src.accounts a ON a.account_id = c.account_id
LEFT JOIN ops.contact_slots s ON s.contact_id = c.contact_id;
