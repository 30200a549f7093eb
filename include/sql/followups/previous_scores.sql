-- The counted answers of the contacts in :contacts (grain: survey_id): each survey's latest
-- answer (the latest-answer rule of marts.fct_survey_responses), oldest first. Owner alerts,
-- escalations and the digest show a case's contact's earlier scores from it.
WITH ranked AS (
    SELECT
        i.contact_id, r.survey_id, i.survey_type, r.score, r.responded_at,
        ROW_NUMBER() OVER (PARTITION BY r.survey_id ORDER BY r.responded_at DESC, r.response_id DESC) AS rn
    FROM ops.raw_responses AS r
    JOIN ops.survey_invitations AS i ON i.survey_id = r.survey_id
    WHERE i.contact_id IN (SELECT UNNEST(CAST(:contacts AS VARCHAR[])))
)
SELECT contact_id, survey_id, survey_type, score, responded_at
FROM ranked
WHERE rn = 1
ORDER BY contact_id, responded_at, survey_id
