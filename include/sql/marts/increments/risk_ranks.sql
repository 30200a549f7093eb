-- After an incremental build of mart_churn_risk (only the accounts of ops.mart_slice_keys 'risk'
-- recomputed): the rows kept from the base build get this build's as_of, and every row its rank
-- among all of them (the order of mart_churn_risk.sql, from the row's own columns).
UPDATE marts_staging.mart_churn_risk
SET as_of = :as_of, risk_rank = r.risk_rank
FROM (
    SELECT account_id, ROW_NUMBER() OVER (
        ORDER BY arr_at_risk DESC, risk_points DESC, COALESCE(arr, 0) DESC, account_id) AS risk_rank
    FROM marts_staging.mart_churn_risk
) AS r
WHERE r.account_id = mart_churn_risk.account_id;
