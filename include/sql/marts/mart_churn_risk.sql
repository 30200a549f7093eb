-- marts.mart_churn_risk (built in marts_staging): one row per account that is a customer on
-- :as_of_date, with its risk reasons over the look-back window [:window_start, :as_of), risk
-- points and level, and the ARR at risk (DOMAIN.md section 6: detractor accounts 0.5 x ARR short
-- term, passive accounts 0.3 x ARR long term); risk_rank 1 is the riskiest revenue. An account with a
-- detractor case open or in progress past its due time (ops.followup_cases) scores one more point.
-- Incremental builds recompute the rows of the accounts of ops.mart_slice_keys 'risk'
-- (increments/account_slices.sql: what the changed answers, invitations, accounts, contract spans,
-- follow-up cases and the moving windows touch); increments/risk_ranks.sql then gives every
-- row the new as_of and rank.
{% import '_incremental_macros.sql.j2' as inc with context -%}
{%- set risk = "(SELECT key FROM ops.mart_slice_keys WHERE slice = 'risk')" -%}
INSERT INTO marts_staging.mart_churn_risk (
    as_of, risk_rank, account_id, account_name, industry, segment, region, owner_name, arr,
    nps_respondents, nps_mean_score, nps_category, last_response_at, recent_detractor,
    score_drop, low_csat, high_effort, no_answer_two_cycles, overdue_detractor_case,
    risk_points, risk_level, reasons, arr_at_risk_short_term, arr_at_risk_long_term, arr_at_risk
)
WITH active AS (
    SELECT account_id FROM ops.mart_account_spans
    WHERE first_start <= :as_of_date AND (lost_on IS NULL OR lost_on > :as_of_date)
{%- if incremental %}
        AND account_id IN {{ risk }}
{%- endif %}
),
{%- if incremental %}
risk_facts AS MATERIALIZED (
    -- the recomputed accounts' fact rows, read once for the three uses below
    SELECT survey_id, contact_id, survey_type, score, responded_at, account_id
    FROM marts_staging.fct_survey_responses
    WHERE account_id IN {{ risk }}
),
{%- endif %}
nps_latest AS (
    -- Each contact's latest NPS answer, with the score of the answer before it (at any time).
    SELECT
        account_id, score, category, responded_at,
        ROW_NUMBER() OVER (PARTITION BY contact_id ORDER BY responded_at DESC, response_id DESC) AS rn,
        LEAD(score) OVER (PARTITION BY contact_id ORDER BY responded_at DESC, response_id DESC) AS previous_score
    FROM marts_staging.fct_survey_responses
    WHERE survey_type = 'nps'
{%- if incremental %}
        -- every NPS answer of the contacts with one for a recomputed account (wherever the others went)
        AND contact_id IN (SELECT contact_id FROM risk_facts WHERE survey_type = 'nps')
{%- endif %}
),
nps_acc AS (
    SELECT
        account_id,
        CAST(COUNT(*) AS BIGINT) AS respondents,
        CAST(SUM(score) AS BIGINT) AS sx,
        MAX(CASE WHEN category = 'detractor' THEN 1 ELSE 0 END) AS recent_detractor,
        MAX(CASE WHEN previous_score - score >= 3 THEN 1 ELSE 0 END) AS score_drop
    FROM nps_latest
    WHERE rn = 1 AND responded_at >= :window_start
    GROUP BY account_id
),
other AS (
    SELECT
        account_id,
        MAX(CASE WHEN survey_type = 'csat' AND score <= 2 AND responded_at >= :window_start THEN 1 ELSE 0 END) AS low_csat,
        MAX(CASE WHEN survey_type = 'ces' AND score <= 3 AND responded_at >= :window_start THEN 1 ELSE 0 END) AS high_effort,
        MAX(responded_at) AS last_response_at
{%- if incremental %}
    FROM risk_facts
{%- else %}
    FROM marts_staging.fct_survey_responses
{%- endif %}
    GROUP BY account_id
),
cycles AS (
    SELECT
        i.account_id, i.cycle, MAX(i.sent_at) AS last_sent,
        MAX(CASE WHEN f.survey_id IS NOT NULL THEN 1 ELSE 0 END) AS answered
    FROM ops.survey_invitations AS i
{%- if incremental %}
    -- a survey's fact row has its invitation's account (survey_id is unique in the ledger)
    LEFT JOIN risk_facts AS f
        ON f.survey_id = i.survey_id
{%- else %}
    LEFT JOIN marts_staging.fct_survey_responses AS f ON f.survey_id = i.survey_id
{%- endif %}
    WHERE i.program = 'relationship' AND i.sent_at IS NOT NULL AND i.sent_at < :cycle_grace_start
{%- if incremental %}
        AND i.account_id IN {{ risk }}
{%- endif %}
    GROUP BY i.account_id, i.cycle
),
last_cycles AS (
    SELECT
        account_id, answered,
        ROW_NUMBER() OVER (PARTITION BY account_id ORDER BY last_sent DESC, cycle DESC) AS rn
    FROM cycles
),
silent AS (
    SELECT account_id, CASE WHEN COUNT(*) = 2 AND MAX(answered) = 0 THEN 1 ELSE 0 END AS no_answer
    FROM last_cycles
    WHERE rn <= 2
    GROUP BY account_id
),
overdue_cases AS (
    -- Accounts with a detractor case still open or in progress past its due time (nps.followups).
    SELECT DISTINCT account_id FROM ops.followup_cases
    WHERE category = 'detractor' AND status IN ('open', 'in_progress') AND due_at < :as_of AND opened_at < :as_of
),
flags AS (
    SELECT
        act.account_id, a.name, a.industry, a.segment, a.region, a.owner_name, a.arr,
        COALESCE(n.respondents, 0) AS respondents,
        CASE WHEN n.respondents > 0 THEN CAST(n.sx AS DOUBLE PRECISION) / CAST(n.respondents AS DOUBLE PRECISION) END AS mean_score,
        CASE
            WHEN n.respondents IS NULL THEN NULL
            WHEN n.sx >= 9 * n.respondents THEN 'promoter'
            WHEN n.sx >= 7 * n.respondents THEN 'passive'
            ELSE 'detractor'
        END AS nps_category,
        o.last_response_at,
        COALESCE(n.recent_detractor, 0) AS rd,
        COALESCE(n.score_drop, 0) AS sd,
        COALESCE(o.low_csat, 0) AS lc,
        COALESCE(o.high_effort, 0) AS he,
        COALESCE(s.no_answer, 0) AS na,
        CASE WHEN oc.account_id IS NOT NULL THEN 1 ELSE 0 END AS oc
    FROM active AS act
    LEFT JOIN src.accounts AS a ON a.account_id = act.account_id
    LEFT JOIN nps_acc AS n ON n.account_id = act.account_id
    LEFT JOIN other AS o ON o.account_id = act.account_id
    LEFT JOIN silent AS s ON s.account_id = act.account_id
    LEFT JOIN overdue_cases AS oc ON oc.account_id = act.account_id
),
scored AS (
    SELECT
        flags.*,
        3 * rd + 2 * sd + 2 * lc + he + na + oc AS points,
        CAST(CASE WHEN nps_category = 'detractor' THEN COALESCE(arr, 0) * 0.5 ELSE 0 END AS DECIMAL(14, 2)) AS short_term,
        CAST(CASE WHEN nps_category = 'passive' THEN COALESCE(arr, 0) * 0.3 ELSE 0 END AS DECIMAL(14, 2)) AS long_term
    FROM flags
)
SELECT
    :as_of,
    ROW_NUMBER() OVER (ORDER BY short_term + long_term DESC, points DESC, COALESCE(arr, 0) DESC, account_id),
    account_id, name, industry, segment, region, owner_name, arr, respondents,
    ROUND(CAST(mean_score AS DECIMAL(18, 6)), 2), nps_category, last_response_at,
    rd = 1, sd = 1, lc = 1, he = 1, na = 1, oc = 1,
    points,
    CASE WHEN points >= 3 THEN 'high' WHEN points = 2 THEN 'medium' WHEN points = 1 THEN 'low' ELSE 'none' END,
    rtrim(
        CASE WHEN rd = 1 THEN 'recent detractor, ' ELSE '' END
        || CASE WHEN sd = 1 THEN 'NPS dropped 3+ points, ' ELSE '' END
        || CASE WHEN lc = 1 THEN 'low CSAT, ' ELSE '' END
        || CASE WHEN he = 1 THEN 'high effort, ' ELSE '' END
        || CASE WHEN na = 1 THEN 'no answer in two cycles, ' ELSE '' END
        || CASE WHEN oc = 1 THEN 'overdue detractor case, ' ELSE '' END,
        ', '
    ),
    short_term, long_term, short_term + long_term
FROM scored;
