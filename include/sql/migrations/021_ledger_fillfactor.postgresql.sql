-- Ledger page space (issue 16, PostgreSQL only; DuckDB runs 021_ledger_fillfactor.sql).
-- Every invitation row is updated twice right after it is claimed (claimed -> sending -> sent,
-- one batch of ~1,000 rows at a time). With full pages each update wrote a new row version on
-- another page plus an entry in both unique indexes (send_key, survey_id); with 30 percent of
-- each new page left free, the versions stay on their page and the indexes are not touched
-- (HOT updates: none of the updated columns is indexed). Applies to pages written from now on.
ALTER TABLE ops.survey_invitations SET (fillfactor = 70);
