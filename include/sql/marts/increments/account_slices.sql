-- After the contract spans are built (ops.mart_account_spans), what the marts that read them and
-- the look-back windows recompute in an incremental build:
-- * 'span' keys (ops.mart_slice_keys): accounts whose span differs from the base build's
--   snapshot (increments/save_state.sql): a contract started, ended or was edited, or its end
--   passed since the base build's as_of.
-- * 'retention' slices (ops.mart_slices): the touched periods (their answers changed), and every
--   period whose retention figures a changed span can move: those starting less than two period
--   lengths before the earliest changed day (the next period's churn counts in a period's row).
-- * 'risk' keys: the accounts whose mart_churn_risk row is recomputed: changed attributes or
--   spans; the accounts of the changed surveys and every account their contacts answered for (a
--   contact's latest answer may move between accounts); accounts with an answer that left the
--   look-back window (the 180 days before the base build and this one) or a relationship invitation that left
--   the 14-day grace period since the base build; and
--   accounts whose overdue-detractor-case flag differs from the base row's. Every other row
--   only gets the new as_of and rank (mart_churn_risk.sql).
INSERT INTO ops.mart_slice_keys (slice, key)
SELECT 'span', COALESCE(s.account_id, b.account_id)
FROM ops.mart_account_spans AS s
FULL OUTER JOIN (SELECT account_id, first_start, lost_on FROM ops.mart_build_spans WHERE build_schema = :base) AS b
    ON b.account_id = s.account_id
WHERE s.account_id IS NULL OR b.account_id IS NULL
    OR s.first_start IS DISTINCT FROM b.first_start OR s.lost_on IS DISTINCT FROM b.lost_on;
INSERT INTO ops.mart_slices (slice, period_grain, period_start)
WITH changed_from AS (
    -- LEAST skips NULLs on both engines (an account that appeared or vanished has one side only)
    SELECT MIN(LEAST(s.first_start, s.lost_on, b.first_start, b.lost_on)) AS d
    FROM ops.mart_slice_keys AS k
    LEFT JOIN ops.mart_account_spans AS s ON s.account_id = k.key
    LEFT JOIN (SELECT account_id, first_start, lost_on FROM ops.mart_build_spans WHERE build_schema = :base) AS b
        ON b.account_id = k.key
    WHERE k.slice = 'span'
)
SELECT 'retention', period_grain, period_start FROM ops.mart_slices WHERE slice = 'touched'
UNION
SELECT 'retention', cal.period_grain, cal.period_start
FROM ops.mart_calendar AS cal
CROSS JOIN changed_from AS c
WHERE CAST(CASE cal.period_grain
        WHEN 'week' THEN cal.period_start + INTERVAL '14 days'
        WHEN 'month' THEN cal.period_start + INTERVAL '2 months'
        ELSE cal.period_start + INTERVAL '6 months'
    END AS DATE) > c.d;
INSERT INTO ops.mart_slice_keys (slice, key)
WITH changed_contacts AS (
    SELECT DISTINCT i.contact_id
    FROM ops.survey_invitations AS i
    JOIN ops.mart_changed_surveys AS c ON c.survey_id = i.survey_id
),
overdue AS (
    SELECT DISTINCT account_id FROM ops.followup_cases
    WHERE category = 'detractor' AND status IN ('open', 'in_progress') AND due_at < :as_of AND opened_at < :as_of
)
SELECT 'risk', account_id FROM ops.mart_changed_accounts
UNION
SELECT 'risk', key FROM ops.mart_slice_keys WHERE slice = 'span'
UNION
SELECT 'risk', i.account_id
FROM ops.survey_invitations AS i
JOIN ops.mart_changed_surveys AS c ON c.survey_id = i.survey_id
UNION
SELECT 'risk', f.account_id
FROM marts_staging.fct_survey_responses AS f
WHERE f.contact_id IN (SELECT contact_id FROM changed_contacts)
    OR (f.responded_at >= :prev_window_start AND f.responded_at < :window_start)
UNION
SELECT 'risk', account_id FROM ops.survey_invitations
WHERE program = 'relationship' AND sent_at >= :prev_cycle_grace_start AND sent_at < :cycle_grace_start
UNION
SELECT 'risk', b.account_id
FROM marts_base.mart_churn_risk AS b
LEFT JOIN overdue AS o ON o.account_id = b.account_id
WHERE b.overdue_detractor_case <> (o.account_id IS NOT NULL);
