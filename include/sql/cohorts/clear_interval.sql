-- cohorts/clear_interval: forget the cohort of one data interval (its calendar, rules,
-- candidates and counts) before it is selected again; one partition per table.
DELETE FROM ops.cohort_candidates WHERE interval_start = :interval_start;
DELETE FROM ops.cohort_runs WHERE interval_start = :interval_start;
DELETE FROM ops.cohort_days WHERE interval_start = :interval_start;
DELETE FROM ops.cohort_rules WHERE interval_start = :interval_start;
