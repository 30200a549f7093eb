-- Audit check orphan_responses: answers received before :as_of whose survey_id is not in the send
-- ledger (they cannot be attributed to a contact or account). One row per answer; none = pass.
SELECT r.response_id, r.survey_id, r.survey_type, CAST(r.responded_at AS VARCHAR) AS responded_at, r.file_id
FROM ops.raw_responses AS r
LEFT JOIN ops.survey_invitations AS i ON i.survey_id = r.survey_id
WHERE i.survey_id IS NULL AND r.responded_at < :as_of;
