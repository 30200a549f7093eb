-- ops.mart_slice_keys 'role': contacts whose role differs from the one the base build's fact
-- table shows (the snapshot of src.contacts taken with that build, increments/save_state.sql),
-- or that were added or deleted since: every answer of theirs is recomputed
-- (increments/changed_surveys.sql). A contacts-sized comparison, not a fact-table join.
INSERT INTO ops.mart_slice_keys (slice, key)
SELECT 'role', COALESCE(c.contact_id, s.contact_id)
FROM src.contacts AS c
FULL OUTER JOIN (SELECT contact_id, role FROM ops.mart_build_roles WHERE build_schema = :base) AS s
    ON s.contact_id = c.contact_id
WHERE c.contact_id IS NULL OR s.contact_id IS NULL OR c.role IS DISTINCT FROM s.role;
