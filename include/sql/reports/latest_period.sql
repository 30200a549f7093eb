-- The latest period of :grain with NPS answers in the published marts, complete or not: one row
-- (the demo's headline falls back to it while no period is complete).
SELECT MAX(period_start) AS period_start
FROM marts.mart_nps
WHERE period_grain = :grain AND dimension = 'all' AND responses > 0
