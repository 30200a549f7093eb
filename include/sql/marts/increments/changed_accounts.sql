-- ops.mart_changed_accounts: accounts whose attributes (as the marts show them: name, industry,
-- segment, region, ARR, owner) differ from those the base build was made with, or that
-- appeared or vanished since (compared with the snapshot of the build the increment starts from).
INSERT INTO ops.mart_changed_accounts (account_id)
SELECT COALESCE(a.account_id, s.account_id)
FROM src.accounts AS a
FULL OUTER JOIN (SELECT * FROM ops.mart_build_accounts WHERE build_schema = :base) AS s
    ON s.account_id = a.account_id
WHERE a.account_id IS NULL OR s.account_id IS NULL
    OR a.name IS DISTINCT FROM s.name OR a.industry IS DISTINCT FROM s.industry
    OR a.segment IS DISTINCT FROM s.segment OR a.region IS DISTINCT FROM s.region
    OR a.arr IS DISTINCT FROM s.arr OR a.owner_name IS DISTINCT FROM s.owner_name;
