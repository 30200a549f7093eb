-- 005: marts.fct_survey_responses loses previous_score. It cost a second sort of the whole fact
-- table on every build (a third of the 10M-answer rebuild), and its one consumer, the churn-risk
-- mart, now finds score drops itself from each contact's latest two NPS answers.
-- PostgreSQL will not drop a column a view reads, so the view goes first. It comes back reading
-- whichever build schema is published (ops.mart_builds); the next publish replaces it with the
-- usual plain view and re-applies the column comments.
DROP VIEW IF EXISTS marts.fct_survey_responses;
ALTER TABLE marts_blue.fct_survey_responses DROP COLUMN previous_score;
ALTER TABLE marts_green.fct_survey_responses DROP COLUMN previous_score;
CREATE VIEW marts.fct_survey_responses AS
SELECT * FROM marts_blue.fct_survey_responses
WHERE (SELECT status FROM ops.mart_builds WHERE build_schema = 'marts_blue') = 'published'
UNION ALL
SELECT * FROM marts_green.fct_survey_responses
WHERE (SELECT status FROM ops.mart_builds WHERE build_schema = 'marts_green') = 'published';
