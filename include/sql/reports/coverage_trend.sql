-- B2B roll-ups over a run of months or quarters (marts.mart_account_nps_summary has no weeks):
-- ARR-weighted and account-mean NPS, active and responding ARR, revenue coverage.
SELECT period_start, period_end, accounts_responding, active_accounts, active_arr, responding_arr,
       revenue_coverage_pct, arr_weighted_nps, account_mean_nps
FROM marts.mart_account_nps_summary
WHERE period_grain = :grain AND period_start BETWEEN :first_start AND :last_start
ORDER BY period_start
