-- Audit check fct_complete: the fact table has exactly one row per answered survey (answered
-- before :as_of, in the ledger). One row when the counts differ; none = pass.
SELECT x.surveys_answered, y.fct_rows
FROM (
    SELECT COUNT(DISTINCT r.survey_id) AS surveys_answered
    FROM ops.raw_responses AS r
    JOIN ops.survey_invitations AS i ON i.survey_id = r.survey_id
    WHERE r.responded_at < :as_of
) AS x
CROSS JOIN (SELECT COUNT(*) AS fct_rows FROM marts_staging.fct_survey_responses) AS y
WHERE x.surveys_answered <> y.fct_rows;
