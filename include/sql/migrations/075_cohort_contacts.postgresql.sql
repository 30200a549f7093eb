-- Cohort contacts (issue 16, PostgreSQL; DuckDB runs 075_cohort_contacts.sql, a view).
--
-- ops.cohort_contacts: one row per contact of src.contacts, as cohort selection reads it: the
-- contact's columns the selection uses, its account's industry (NULL while the account is not
-- loaded) and its slot hash (the first 6 hex digits of md5(contact_id) as an integer, as
-- ops.contact_slots and nps.cohorts.slot_day). Selecting a cohort used to join a million
-- contacts with their accounts and their stored slots on every run (about half of the
-- statement's CPU time); this table is that join, kept current by the triggers below, so the
-- selection reads one table.
--
-- Kept current by statement-level triggers on src.contacts and src.accounts (every INSERT,
-- UPDATE, DELETE, COPY and TRUNCATE, also from a logical-replication apply worker: ENABLE
-- ALWAYS). A loader that disables triggers must run the fill at the end of this file again.
CREATE TABLE ops.cohort_contacts (
    contact_id VARCHAR PRIMARY KEY,
    account_id VARCHAR NOT NULL,
    industry   VARCHAR,
    role       VARCHAR NOT NULL,
    locale     VARCHAR NOT NULL,
    consent    BOOLEAN NOT NULL,
    email      VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    slot_hash  INTEGER NOT NULL
);
CREATE INDEX cohort_contacts_account ON ops.cohort_contacts (account_id);

-- New or changed contacts: (re)written with their account's industry, rows whose values did not
-- change left alone; the slot hash is computed for ids not stored yet. An UPDATE that changed a
-- contact's id removes the old id first. One function for both triggers (TG_OP tells them apart;
-- old_contacts exists only for UPDATE, and PL/pgSQL plans the DELETE only when it runs).
CREATE FUNCTION ops.cohort_contacts_upsert() RETURNS trigger LANGUAGE plpgsql AS '
BEGIN
    IF TG_OP = ''UPDATE'' THEN
        DELETE FROM ops.cohort_contacts p
        WHERE p.contact_id IN (SELECT contact_id FROM old_contacts EXCEPT SELECT contact_id FROM new_contacts);
    END IF;
    INSERT INTO ops.cohort_contacts
        (contact_id, account_id, industry, role, locale, consent, email, created_at, slot_hash)
    SELECT n.contact_id, n.account_id, a.industry, n.role, n.locale, n.consent, n.email, n.created_at,
           CAST(CAST(''x00'' || SUBSTR(MD5(n.contact_id), 1, 6) AS BIT(32)) AS INTEGER)
    FROM new_contacts n
    LEFT JOIN src.accounts a ON a.account_id = n.account_id
    ON CONFLICT (contact_id) DO UPDATE SET
        account_id = EXCLUDED.account_id, industry = EXCLUDED.industry, role = EXCLUDED.role,
        locale = EXCLUDED.locale, consent = EXCLUDED.consent, email = EXCLUDED.email,
        created_at = EXCLUDED.created_at
    WHERE (cohort_contacts.account_id, cohort_contacts.industry, cohort_contacts.role, cohort_contacts.locale,
           cohort_contacts.consent, cohort_contacts.email, cohort_contacts.created_at)
          IS DISTINCT FROM (EXCLUDED.account_id, EXCLUDED.industry, EXCLUDED.role, EXCLUDED.locale,
                            EXCLUDED.consent, EXCLUDED.email, EXCLUDED.created_at);
    RETURN NULL;
END';

CREATE FUNCTION ops.cohort_contacts_delete() RETURNS trigger LANGUAGE plpgsql AS '
BEGIN
    DELETE FROM ops.cohort_contacts p WHERE p.contact_id IN (SELECT contact_id FROM old_contacts);
    RETURN NULL;
END';

CREATE FUNCTION ops.cohort_contacts_truncate() RETURNS trigger LANGUAGE plpgsql AS '
BEGIN
    TRUNCATE ops.cohort_contacts;
    RETURN NULL;
END';

-- An account's industry as of now on the contacts of the accounts a statement touched (NULL for
-- an account that is gone); rows whose industry did not change are left alone.
CREATE FUNCTION ops.cohort_contacts_accounts() RETURNS trigger LANGUAGE plpgsql AS '
BEGIN
    UPDATE ops.cohort_contacts p
    SET industry = x.industry
    FROM (SELECT ch.account_id, a.industry
          FROM (SELECT DISTINCT account_id FROM changed_accounts) ch
          LEFT JOIN src.accounts a ON a.account_id = ch.account_id) x
    WHERE p.account_id = x.account_id AND p.industry IS DISTINCT FROM x.industry;
    RETURN NULL;
END';

CREATE FUNCTION ops.cohort_contacts_accounts_truncate() RETURNS trigger LANGUAGE plpgsql AS '
BEGIN
    UPDATE ops.cohort_contacts SET industry = NULL WHERE industry IS NOT NULL;
    RETURN NULL;
END';

CREATE TRIGGER cohort_contacts_insert AFTER INSERT ON src.contacts
    REFERENCING NEW TABLE AS new_contacts FOR EACH STATEMENT EXECUTE FUNCTION ops.cohort_contacts_upsert();
CREATE TRIGGER cohort_contacts_update AFTER UPDATE ON src.contacts
    REFERENCING OLD TABLE AS old_contacts NEW TABLE AS new_contacts
    FOR EACH STATEMENT EXECUTE FUNCTION ops.cohort_contacts_upsert();
CREATE TRIGGER cohort_contacts_delete AFTER DELETE ON src.contacts
    REFERENCING OLD TABLE AS old_contacts FOR EACH STATEMENT EXECUTE FUNCTION ops.cohort_contacts_delete();
CREATE TRIGGER cohort_contacts_truncate AFTER TRUNCATE ON src.contacts
    FOR EACH STATEMENT EXECUTE FUNCTION ops.cohort_contacts_truncate();
CREATE TRIGGER cohort_contacts_accounts_insert AFTER INSERT ON src.accounts
    REFERENCING NEW TABLE AS changed_accounts FOR EACH STATEMENT EXECUTE FUNCTION ops.cohort_contacts_accounts();
CREATE TRIGGER cohort_contacts_accounts_update_new AFTER UPDATE ON src.accounts
    REFERENCING OLD TABLE AS old_accounts NEW TABLE AS changed_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION ops.cohort_contacts_accounts();
CREATE TRIGGER cohort_contacts_accounts_update_old AFTER UPDATE ON src.accounts
    REFERENCING OLD TABLE AS changed_accounts NEW TABLE AS new_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION ops.cohort_contacts_accounts();
CREATE TRIGGER cohort_contacts_accounts_delete AFTER DELETE ON src.accounts
    REFERENCING OLD TABLE AS changed_accounts FOR EACH STATEMENT EXECUTE FUNCTION ops.cohort_contacts_accounts();
CREATE TRIGGER cohort_contacts_accounts_truncate AFTER TRUNCATE ON src.accounts
    FOR EACH STATEMENT EXECUTE FUNCTION ops.cohort_contacts_accounts_truncate();
ALTER TABLE src.contacts ENABLE ALWAYS TRIGGER cohort_contacts_insert;
ALTER TABLE src.contacts ENABLE ALWAYS TRIGGER cohort_contacts_update;
ALTER TABLE src.contacts ENABLE ALWAYS TRIGGER cohort_contacts_delete;
ALTER TABLE src.contacts ENABLE ALWAYS TRIGGER cohort_contacts_truncate;
ALTER TABLE src.accounts ENABLE ALWAYS TRIGGER cohort_contacts_accounts_insert;
ALTER TABLE src.accounts ENABLE ALWAYS TRIGGER cohort_contacts_accounts_update_new;
ALTER TABLE src.accounts ENABLE ALWAYS TRIGGER cohort_contacts_accounts_update_old;
ALTER TABLE src.accounts ENABLE ALWAYS TRIGGER cohort_contacts_accounts_delete;
ALTER TABLE src.accounts ENABLE ALWAYS TRIGGER cohort_contacts_accounts_truncate;

-- The contacts already loaded (the stored slot hash where there is one).
INSERT INTO ops.cohort_contacts
    (contact_id, account_id, industry, role, locale, consent, email, created_at, slot_hash)
SELECT c.contact_id, c.account_id, a.industry, c.role, c.locale, c.consent, c.email, c.created_at,
       COALESCE(s.slot_hash, CAST(CAST('x00' || SUBSTR(MD5(c.contact_id), 1, 6) AS BIT(32)) AS INTEGER))
FROM src.contacts c
LEFT JOIN src.accounts a ON a.account_id = c.account_id
LEFT JOIN ops.contact_slots s ON s.contact_id = c.contact_id;
