-- Recovery after a case in one period (marts.mart_loop_recovery, company-wide): per side of the
-- SLA, the cases whose contact answered again and those no longer negative.
SELECT contacted_within_sla,
       CAST(SUM(with_next_answer) AS BIGINT) AS with_next_answer,
       CAST(SUM(recovered) AS BIGINT) AS recovered
FROM marts.mart_loop_recovery
WHERE period_grain = :grain AND period_start = :period_start
GROUP BY contacted_within_sla
