-- When most active accounts' churn-risk rows are recomputed anyway (nps.marts.RISK_ALL_SHARE),
-- mart_churn_risk is rebuilt whole (its full SQL is cheaper than the sliced one then): every row
-- of the base build becomes a recomputed one, so none is kept.
INSERT INTO ops.mart_slice_keys (slice, key)
SELECT 'risk', account_id FROM marts_base.mart_churn_risk
EXCEPT
SELECT 'risk', key FROM ops.mart_slice_keys WHERE slice = 'risk';
