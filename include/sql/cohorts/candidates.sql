-- cohorts/candidates: everyone due a survey in the run's data interval, one row per (interval,
-- contact, program), with the first rule that excludes it or 'selected'. Grain: ops.cohort_candidates.
--   relationship: the contact's slot day in its industry's cycle (ops.cohort_contacts.slot_hash,
--     from md5 of contact_id, modulo the cycle length) is a day of the interval, so a cycle's contacts are spread evenly over it;
--   transactional: a configured touchpoint event fell due in the interval (ops.cohort_rules holds
--     the windows shifted by delay_days); account-level events (no contact_id) survey the
--     account's decision makers and influencers; several events give one candidate, the earliest.
-- Exclusions in order: churned (no contract covers the day), no_consent, suppressed, fatigue (the
-- ledger, across survey types, both directions so backfills hold), relationship_wins (the same
-- contact is due a relationship survey in this run), account_cap (per relationship cycle).
INSERT INTO ops.cohort_candidates (
    interval_start, interval_end, run_id, send_key, survey_id, program, survey_type, touchpoint,
    touchpoint_event_id, contact_id, account_id, industry, role, locale, cycle, cycle_start,
    cycle_end, cohort_date, reason
)
WITH days AS (
    SELECT industry, day, cycle, cycle_start, cycle_end, cycle_days, day_index, relationship_survey,
           rel_lo, rel_hi, tx_lo, tx_hi, any_lo, any_hi
    FROM ops.cohort_days
    WHERE interval_start = :interval_start
),
-- The contacts with their account's industry and slot hash (ops.cohort_contacts, migration 075:
-- on PostgreSQL a table kept current by triggers on src.contacts and src.accounts, so this
-- statement reads one table instead of joining a million contacts with two others; on DuckDB a
-- view over that join, which hashes a contact missing from ops.contact_slots).
people AS (
    SELECT p.contact_id, p.account_id, p.industry, p.role, p.locale, p.consent, p.email, p.slot_hash
    FROM ops.cohort_contacts p
    WHERE p.created_at < :interval_end
),
rel AS (
    SELECT p.contact_id, p.account_id, p.industry, p.role, p.locale, p.consent, p.email,
           'relationship' AS program, d.relationship_survey AS survey_type,
           CAST(NULL AS VARCHAR) AS touchpoint, CAST(NULL AS VARCHAR) AS touchpoint_event_id,
           CAST(NULL AS TIMESTAMP) AS occurred_at,
           d.cycle, d.cycle_start, d.cycle_end, d.day AS cohort_date
    FROM people p
    JOIN days d ON d.industry = p.industry AND MOD(p.slot_hash, d.cycle_days) = d.day_index
),
-- Transactional candidates: the events of the span of every rule's window, paired with the
-- contacts of their account that they survey (the event's contact, or for an account-level event
-- its decision makers and influencers), then with the rule of the contact's industry whose window
-- holds the event. ops.cohort_contacts carries the industry, so no account lookup per event.
ev AS (
    SELECT e.event_id, e.account_id, e.contact_id, e.touchpoint, e.occurred_at
    FROM src.touchpoint_events e
    WHERE e.occurred_at >= :events_from AND e.occurred_at < :events_to
),
tx AS (
    SELECT c.contact_id, c.account_id, c.industry, c.role, c.locale, c.consent, c.email,
           'transactional' AS program, r.survey_type, ev.touchpoint, ev.event_id AS touchpoint_event_id,
           ev.occurred_at, d.cycle, d.cycle_start, d.cycle_end, d.day AS cohort_date
    FROM ev
    JOIN ops.cohort_contacts c ON c.account_id = ev.account_id
    JOIN ops.cohort_rules r
      ON r.interval_start = :interval_start AND r.industry = c.industry AND r.touchpoint = ev.touchpoint
     AND ev.occurred_at >= r.window_start AND ev.occurred_at < r.window_end
    JOIN days d ON d.industry = c.industry AND d.day = r.day
    WHERE c.created_at < :interval_end
      AND (c.contact_id = ev.contact_id
           OR (ev.contact_id IS NULL AND c.role IN ('decision_maker', 'influencer')))
),
ranked AS (
    SELECT u.*,
           ROW_NUMBER() OVER (
               PARTITION BY u.contact_id, u.program
               ORDER BY u.cohort_date, u.occurred_at, u.touchpoint_event_id
           ) AS rn
    FROM (SELECT * FROM rel UNION ALL SELECT * FROM tx) u
),
cand AS (
    SELECT r.contact_id, r.account_id, r.industry, r.role, r.locale, r.consent, r.email, r.program, r.survey_type,
           r.touchpoint, r.touchpoint_event_id, r.cycle, r.cycle_start, r.cycle_end, r.cohort_date,
           r.program || '/' || r.survey_type || '/' || r.cycle || '/' || r.contact_id
               || COALESCE('/' || r.touchpoint_event_id, '') AS send_key
    FROM ranked r
    WHERE r.rn = 1
),
history AS (
    SELECT h.contact_id, h.account_id, h.program,
           COALESCE(h.cohort_date, CAST(h.claimed_at AS DATE)) AS d
    FROM ops.survey_invitations h
    WHERE h.status IN ('claimed', 'sending', 'sent')
      AND (h.interval_start IS NULL OR h.interval_start <> :interval_start)
),
fatigued AS (
    SELECT DISTINCT c.send_key
    FROM cand c
    JOIN days d ON d.industry = c.industry AND d.day = c.cohort_date
    JOIN history h ON h.contact_id = c.contact_id
    WHERE (h.d BETWEEN d.any_lo AND d.any_hi)
       OR (c.program = 'relationship' AND h.program = 'relationship' AND h.d BETWEEN d.rel_lo AND d.rel_hi)
       OR (c.program = 'transactional' AND h.program = 'transactional' AND h.d BETWEEN d.tx_lo AND d.tx_hi)
),
suppressed AS (
    SELECT DISTINCT LOWER(email) AS email FROM ops.suppressions
),
flagged AS (
    SELECT c.*,
           CASE
               WHEN NOT EXISTS (
                   SELECT 1 FROM src.contracts k
                   WHERE k.account_id = c.account_id AND k.start_date <= c.cohort_date
                     AND (k.end_date IS NULL OR k.end_date > c.cohort_date)
               ) THEN 'churned'
               WHEN NOT c.consent THEN 'no_consent'
               WHEN s.email IS NOT NULL THEN 'suppressed'
               WHEN f.send_key IS NOT NULL THEN 'fatigue'
           END AS early_reason
    FROM cand c
    LEFT JOIN suppressed s ON s.email = LOWER(c.email)
    LEFT JOIN fatigued f ON f.send_key = c.send_key
),
won AS (
    SELECT f.*,
           CASE
               WHEN f.early_reason IS NOT NULL THEN f.early_reason
               WHEN f.program = 'transactional' AND rw.contact_id IS NOT NULL THEN 'relationship_wins'
           END AS reason_before_cap
    FROM flagged f
    LEFT JOIN (
        SELECT DISTINCT contact_id FROM flagged WHERE program = 'relationship' AND early_reason IS NULL
    ) rw ON rw.contact_id = f.contact_id
),
ranked_cap AS (
    SELECT w.*,
           ROW_NUMBER() OVER (
               PARTITION BY w.account_id, CASE WHEN w.reason_before_cap IS NULL THEN 1 ELSE 0 END
               ORDER BY CASE w.program WHEN 'relationship' THEN 0 ELSE 1 END,
                        CASE w.role WHEN 'decision_maker' THEN 0 WHEN 'influencer' THEN 1 ELSE 2 END,
                        w.contact_id
           ) AS cap_rank
    FROM won w
),
prior AS (
    SELECT a.account_id, a.cycle_start, COUNT(*) AS n
    FROM (SELECT DISTINCT account_id, cycle_start, cycle_end FROM cand) a
    JOIN history h ON h.account_id = a.account_id AND h.d >= a.cycle_start AND h.d < a.cycle_end
    GROUP BY a.account_id, a.cycle_start
)
SELECT CAST(:interval_start AS TIMESTAMP), CAST(:interval_end AS TIMESTAMP), CAST(:run_id AS VARCHAR),
       r.send_key, 'S' || SUBSTR(MD5(r.send_key), 1, 24), r.program, r.survey_type, r.touchpoint,
       r.touchpoint_event_id, r.contact_id, r.account_id, r.industry, r.role, r.locale, r.cycle,
       r.cycle_start, r.cycle_end, r.cohort_date,
       COALESCE(
           r.reason_before_cap,
           CASE WHEN COALESCE(p.n, 0) + r.cap_rank > :account_cap THEN 'account_cap' ELSE 'selected' END
       )
FROM ranked_cap r
LEFT JOIN prior p ON p.account_id = r.account_id AND p.cycle_start = r.cycle_start;
