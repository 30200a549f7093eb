-- Contact slots (issue 16): each contact's relationship-survey slot hash, computed once.
-- Runs on DuckDB and PostgreSQL.
--
-- ops.contact_slots: one row per contact of src.contacts: slot_hash is the first 6 hex digits of
-- md5(contact_id) as an integer (nps.cohorts.slot_day computes the same in Python); a contact's
-- slot day in a cycle of N days is slot_hash mod N. contact_id never changes, so neither does
-- the hash: cohorts/contact_slots.sql adds the contacts that are new since the last run, and
-- cohort selection joins the table instead of hashing a million ids per run.
CREATE TABLE ops.contact_slots (
    contact_id VARCHAR PRIMARY KEY,
    slot_hash  INTEGER NOT NULL
);
