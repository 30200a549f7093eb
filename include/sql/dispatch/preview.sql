-- dispatch/preview: what a dry run of an interval's dispatch would send, one row per invitation:
-- the selected cohort not yet in the ledger, plus ledger rows still to send (claimed, or failed
-- and sent again on the next attempt), with what the email needs. Reads only; claims nothing.
SELECT c.send_key, c.survey_id, c.survey_type, c.locale, ct.email, ct.first_name, ct.last_name,
       a.name AS company
FROM ops.cohort_candidates c
JOIN src.contacts ct ON ct.contact_id = c.contact_id
JOIN src.accounts a ON a.account_id = c.account_id
WHERE c.interval_start = :interval_start
  AND c.reason = 'selected'
  AND NOT EXISTS (SELECT 1 FROM ops.survey_invitations i WHERE i.send_key = c.send_key)
  AND NOT EXISTS (SELECT 1 FROM ops.survey_invitations i WHERE i.survey_id = c.survey_id)
UNION ALL
SELECT i.send_key, i.survey_id, i.survey_type, i.locale, ct.email, ct.first_name, ct.last_name,
       a.name AS company
FROM ops.survey_invitations i
JOIN src.contacts ct ON ct.contact_id = i.contact_id
JOIN src.accounts a ON a.account_id = i.account_id
WHERE i.interval_start = :interval_start
  AND i.status IN ('claimed', 'failed')
ORDER BY survey_type, locale, send_key
