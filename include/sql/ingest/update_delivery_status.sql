-- ops.survey_invitations.delivery_status: the delivery state of every invitation touched by one
-- event file (grain: send_key), recomputed from all its events so the order files arrive in does
-- not matter. bounce and dropped win over any later delivered/deferred/processed; otherwise the
-- latest event counts (delivered before deferred before processed at the same second).
UPDATE ops.survey_invitations AS inv
SET delivery_status = latest.event,
    delivery_updated_at = latest.occurred_at
FROM (
    SELECT ranked.send_key, ranked.event, ranked.occurred_at
    FROM (
        SELECT e.send_key, e.event, e.occurred_at,
               ROW_NUMBER() OVER (
                   PARTITION BY e.send_key
                   ORDER BY CASE WHEN e.event IN ('bounce', 'dropped') THEN 1 ELSE 0 END DESC,
                            e.occurred_at DESC,
                            CASE e.event WHEN 'delivered' THEN 3 WHEN 'deferred' THEN 2 ELSE 1 END DESC
               ) AS rn
        FROM ops.email_events AS e
        WHERE e.event IN ('processed', 'deferred', 'delivered', 'bounce', 'dropped')
          AND e.send_key IN (SELECT f.send_key FROM ops.email_events AS f WHERE f.file_id = :file_id)
    ) AS ranked
    WHERE ranked.rn = 1
) AS latest
WHERE inv.send_key = latest.send_key;
