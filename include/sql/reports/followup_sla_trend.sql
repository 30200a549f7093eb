-- Follow-up SLA over a run of periods: one row per period, counts summed over marts.mart_followups
-- (by the period of the answer that opened the case), optionally for one industry: cases whose
-- SLA can be judged and those the owner acted on by their due time.
SELECT period_start, MAX(period_end) AS period_end,
       CAST(SUM(cases_opened) AS BIGINT) AS cases_opened,
       CAST(SUM(cases_sla_measured) AS BIGINT) AS cases_sla_measured,
       CAST(SUM(cases_within_sla) AS BIGINT) AS cases_within_sla,
       CAST(SUM(cases_overdue) AS BIGINT) AS cases_overdue
FROM marts.mart_followups
WHERE period_grain = :grain AND period_start BETWEEN :first_start AND :last_start
  AND (CAST(:industry AS VARCHAR) IS NULL OR industry = CAST(:industry AS VARCHAR))
GROUP BY period_start
ORDER BY period_start
