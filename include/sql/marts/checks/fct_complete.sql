-- Audit check fct_complete: the fact table has exactly one row per survey answered before
-- :as_of. (Answers to surveys missing from the ledger fail orphan_responses, which runs first;
-- counting without the ledger join keeps this check one pass over the raw answers.)
-- One row when the counts differ; none = pass.
SELECT x.surveys_answered, y.fct_rows
FROM (
    SELECT COUNT(DISTINCT survey_id) AS surveys_answered
    FROM ops.raw_responses
    WHERE responded_at < :as_of
) AS x
CROSS JOIN (SELECT COUNT(*) AS fct_rows FROM marts_staging.fct_survey_responses) AS y
WHERE x.surveys_answered <> y.fct_rows;
