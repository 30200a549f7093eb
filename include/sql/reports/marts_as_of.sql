-- The instant the published marts were built as of (every row of marts.mart_churn_risk carries
-- it); NULL before the first build with active accounts. One row.
SELECT MAX(as_of) AS as_of FROM marts.mart_churn_risk
