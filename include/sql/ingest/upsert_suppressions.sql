-- ops.suppressions: addresses never to be surveyed again, from one event file's bounce, dropped,
-- spamreport, unsubscribe and group_unsubscribe events (grain: email + reason). The first report
-- of an (email, reason) wins; a later one only fills a missing contact_id.
INSERT INTO ops.suppressions (email, reason, contact_id, source, occurred_at)
SELECT e.email, e.event, MIN(i.contact_id), :source, MIN(e.occurred_at)
FROM ops.email_events AS e
LEFT JOIN ops.survey_invitations AS i ON i.send_key = e.send_key
WHERE e.file_id = :file_id
  AND e.email IS NOT NULL
  AND e.event IN ('bounce', 'dropped', 'spamreport', 'unsubscribe', 'group_unsubscribe')
GROUP BY e.email, e.event
ON CONFLICT (email, reason) DO UPDATE SET contact_id = COALESCE(ops.suppressions.contact_id, EXCLUDED.contact_id);
