-- cohorts/contact_slots (DuckDB; PostgreSQL keeps slots in ops.cohort_contacts, migration 075):
-- the slot hash of every contact not yet in ops.contact_slots (new since
-- the last refresh; all of them on the first run), and no row for a contact that was deleted.
-- Grain: ops.contact_slots, one row per contact of src.contacts.
-- nps.cohorts runs this only when the two tables' row counts differ (two counts instead of two
-- anti-joins over a million ids per run); cohorts/candidates hashes any contact still missing.
-- slot_hash = the first 6 hex digits of md5(contact_id) as an integer, written with POSITION so
-- it is the same SQL on DuckDB and PostgreSQL; nps.cohorts.slot_day is its Python twin.
-- The new ids come from EXCEPT, which reads ops.contact_slots once before the first row is
-- inserted: a NOT EXISTS anti-join here was planned on the empty table as a nested loop that
-- rescanned the table it was growing (quadratic: 15 minutes for a million contacts on PostgreSQL).
DELETE FROM ops.contact_slots
WHERE contact_id IN (
    SELECT contact_id FROM ops.contact_slots
    EXCEPT
    SELECT contact_id FROM src.contacts
);
INSERT INTO ops.contact_slots (contact_id, slot_hash)
SELECT p.contact_id,
       (POSITION(SUBSTR(p.h, 1, 1) IN '0123456789abcdef') - 1) * 1048576
     + (POSITION(SUBSTR(p.h, 2, 1) IN '0123456789abcdef') - 1) * 65536
     + (POSITION(SUBSTR(p.h, 3, 1) IN '0123456789abcdef') - 1) * 4096
     + (POSITION(SUBSTR(p.h, 4, 1) IN '0123456789abcdef') - 1) * 256
     + (POSITION(SUBSTR(p.h, 5, 1) IN '0123456789abcdef') - 1) * 16
     + (POSITION(SUBSTR(p.h, 6, 1) IN '0123456789abcdef') - 1)
FROM (
    SELECT n.contact_id, MD5(n.contact_id) AS h
    FROM (
        SELECT contact_id FROM src.contacts
        EXCEPT
        SELECT contact_id FROM ops.contact_slots
    ) n
) p;
