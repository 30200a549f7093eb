-- Response rate over a run of periods, every survey type together: one row per period, counts
-- summed over marts.mart_response_rates (by the period the invitation was sent in), optionally
-- for one industry or one touchpoint ('(relationship)' for relationship surveys).
SELECT period_start, MAX(period_end) AS period_end,
       CAST(SUM(invitations_sent) AS BIGINT) AS invitations_sent,
       CAST(SUM(delivered) AS BIGINT) AS delivered,
       CAST(SUM(answered) AS BIGINT) AS answered
FROM marts.mart_response_rates
WHERE period_grain = :grain AND period_start BETWEEN :first_start AND :last_start
  AND (CAST(:industry AS VARCHAR) IS NULL OR industry = CAST(:industry AS VARCHAR))
  AND (CAST(:touchpoint AS VARCHAR) IS NULL OR touchpoint = CAST(:touchpoint AS VARCHAR))
GROUP BY period_start
ORDER BY period_start
