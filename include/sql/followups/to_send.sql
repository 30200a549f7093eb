-- The follow-up emails to send now (grain: survey_id): pending decisions whose answer has settled
-- (responded at or before :settled_before), with what the email shows: the contact's name and
-- address, the company, the account owner and the comment of the answer decided on.
SELECT
    d.survey_id, d.send_key, d.survey_type, d.template, d.locale, d.score, d.category,
    c.email, c.first_name, c.last_name, a.name AS company, a.owner_name, r.comment
FROM ops.followup_decisions AS d
LEFT JOIN src.contacts AS c ON c.contact_id = d.contact_id
LEFT JOIN src.accounts AS a ON a.account_id = d.account_id
LEFT JOIN ops.raw_responses AS r ON r.response_id = d.response_id
WHERE d.status = 'pending' AND d.template IS NOT NULL AND d.responded_at <= :settled_before
ORDER BY d.template, d.locale, d.survey_id
