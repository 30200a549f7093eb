-- The latest period of :grain in the published marts that ended on or before :as_of_date: one
-- row (NULL when none has ended yet).
SELECT MAX(period_start) AS period_start
FROM marts.mart_nps
WHERE period_grain = :grain AND dimension = 'all' AND period_end <= :as_of_date
