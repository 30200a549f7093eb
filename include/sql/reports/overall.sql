-- Every counted answer so far, per survey type (marts.fct_survey_responses): one row per survey
-- type with the answers, the top-box answers (promoter, satisfied, easy), the detractors and the
-- sum of scores, for the demo's "overall" headline line.
SELECT survey_type, COUNT(*) AS responses,
       SUM(CASE WHEN category IN ('promoter', 'satisfied', 'easy') THEN 1 ELSE 0 END) AS top_box,
       SUM(CASE WHEN category = 'detractor' THEN 1 ELSE 0 END) AS detractors,
       SUM(score) AS score_sum
FROM marts.fct_survey_responses
GROUP BY survey_type
ORDER BY survey_type
