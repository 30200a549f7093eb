-- Demo respondents: the invitations that may be answered or produce email events on a day
-- (grain: survey_id): sent in [since, day_end), with the contact's address, role and locale.
SELECT i.survey_id, i.send_key, i.survey_type, i.contact_id, i.account_id, i.sent_at, i.provider_message_id,
       COALESCE(c.locale, i.locale) AS locale, c.email, c.role, a.industry
FROM ops.survey_invitations AS i
LEFT JOIN src.contacts AS c ON c.contact_id = i.contact_id
LEFT JOIN src.accounts AS a ON a.account_id = i.account_id
WHERE i.status = 'sent'
  AND i.sent_at >= :since
  AND i.sent_at < :day_end
ORDER BY i.survey_id;
