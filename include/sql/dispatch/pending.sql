-- dispatch/pending: the claimed, unsent invitations of an interval with what the email needs,
-- one row per invitation, grouped by template (survey type, locale).
SELECT i.send_key, i.survey_id, i.survey_type, i.locale, c.email, c.first_name, c.last_name,
       a.name AS company
FROM ops.survey_invitations i
JOIN src.contacts c ON c.contact_id = i.contact_id
JOIN src.accounts a ON a.account_id = i.account_id
WHERE i.interval_start = :interval_start AND i.status = 'claimed'
ORDER BY i.survey_type, i.locale, i.send_key;
