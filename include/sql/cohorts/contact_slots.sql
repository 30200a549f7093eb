-- cohorts/contact_slots: the slot hash of every contact not yet in ops.contact_slots (new since
-- the last run; all of them on the first run). Grain: ops.contact_slots, one row per contact.
-- slot_hash = the first 6 hex digits of md5(contact_id) as an integer, written with POSITION so it is the same SQL on
-- DuckDB and PostgreSQL; nps.cohorts.slot_day is its Python twin.
INSERT INTO ops.contact_slots (contact_id, slot_hash)
SELECT p.contact_id,
       (POSITION(SUBSTR(p.h, 1, 1) IN '0123456789abcdef') - 1) * 1048576
     + (POSITION(SUBSTR(p.h, 2, 1) IN '0123456789abcdef') - 1) * 65536
     + (POSITION(SUBSTR(p.h, 3, 1) IN '0123456789abcdef') - 1) * 4096
     + (POSITION(SUBSTR(p.h, 4, 1) IN '0123456789abcdef') - 1) * 256
     + (POSITION(SUBSTR(p.h, 5, 1) IN '0123456789abcdef') - 1) * 16
     + (POSITION(SUBSTR(p.h, 6, 1) IN '0123456789abcdef') - 1)
FROM (
    SELECT c.contact_id, MD5(c.contact_id) AS h
    FROM src.contacts c
    WHERE NOT EXISTS (SELECT 1 FROM ops.contact_slots s WHERE s.contact_id = c.contact_id)
) p;
