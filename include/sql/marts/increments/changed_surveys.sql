-- ops.mart_changed_surveys: the surveys whose fact row (and the slices it counts in) an
-- incremental build recomputes, since its base build (marts_base: the staging schema's own last
-- build, or the published one): new or repeated answers (loaded after the base build's
-- watermark, or answered between its as_of and this one), ledger rows claimed, sent or updated
-- since, email events loaded since (or that happened between the two as_of), answers of contacts
-- whose role now differs from what the base fact table shows (changed, added or deleted contacts:
-- ops.mart_slice_keys 'role', increments/changed_roles.sql), and every invitation of an account
-- in ops.mart_changed_accounts.
INSERT INTO ops.mart_changed_surveys (survey_id)
SELECT survey_id FROM ops.raw_responses
WHERE loaded_at > :wm_responses OR (responded_at >= :prev_as_of AND responded_at < :as_of)
UNION
SELECT survey_id FROM ops.survey_invitations
WHERE claimed_at > :wm_invitations OR sent_at > :wm_invitations OR delivery_updated_at > :wm_invitations
    OR (sent_at >= :prev_as_of AND sent_at < :as_of)
UNION
SELECT i.survey_id
FROM ops.email_events AS e
JOIN ops.survey_invitations AS i ON i.send_key = e.send_key
WHERE e.loaded_at > :wm_events OR (e.occurred_at >= :prev_as_of AND e.occurred_at < :as_of)
UNION
SELECT e.survey_id FROM ops.email_events AS e
WHERE e.send_key IS NULL AND e.survey_id IS NOT NULL
    AND (e.loaded_at > :wm_events OR (e.occurred_at >= :prev_as_of AND e.occurred_at < :as_of))
UNION
SELECT f.survey_id
FROM marts_base.fct_survey_responses AS f
WHERE f.contact_id IN (SELECT key FROM ops.mart_slice_keys WHERE slice = 'role')
UNION
SELECT i.survey_id
FROM ops.survey_invitations AS i
JOIN ops.mart_changed_accounts AS a ON a.account_id = i.account_id;
