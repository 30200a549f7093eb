-- marts.fct_survey_responses (built in marts_staging): one row per counted answer, i.e. per
-- survey_id the answer with the latest responded_at (ties: the larger response_id), answered
-- before :as_of, joined to the send ledger, the contact and the account. Categories: _categories.sql.j2.
-- Incremental builds recompute the surveys of ops.mart_changed_surveys only (_incremental_macros.sql.j2).
{% import '_categories.sql.j2' as cat -%}
{% import '_incremental_macros.sql.j2' as inc with context -%}
INSERT INTO marts_staging.fct_survey_responses (
    response_id, survey_id, survey_type, program, touchpoint, score, category, comment,
    answers_received, sent_at, responded_at, response_date, account_id, account_name,
    contact_id, role, industry, segment, region, account_arr, account_owner, locale
)
WITH ranked AS (
    SELECT
        r.response_id, r.survey_id, r.score, r.comment, r.responded_at, r.locale,
        ROW_NUMBER() OVER (PARTITION BY r.survey_id ORDER BY r.responded_at DESC, r.response_id DESC) AS rn,
        COUNT(*) OVER (PARTITION BY r.survey_id) AS answers_received
    FROM ops.raw_responses AS r
    WHERE r.responded_at < :as_of
{%- if incremental %}
        AND {{ inc.changed_survey('r.survey_id') }}
{%- endif %}
)
SELECT
    r.response_id, r.survey_id, i.survey_type, i.program, i.touchpoint, r.score,
    {{ cat.category('i.survey_type', 'r.score') }} AS category,
    r.comment, CAST(r.answers_received AS INTEGER) AS answers_received, i.sent_at, r.responded_at,
    CAST(r.responded_at AS DATE) AS response_date, i.account_id, a.name AS account_name,
    i.contact_id, c.role, a.industry, a.segment, a.region, a.arr AS account_arr,
    a.owner_name AS account_owner, COALESCE(r.locale, i.locale, c.locale) AS locale
FROM ranked AS r
JOIN ops.survey_invitations AS i ON i.survey_id = r.survey_id
LEFT JOIN src.contacts AS c ON c.contact_id = i.contact_id
LEFT JOIN src.accounts AS a ON a.account_id = i.account_id
WHERE r.rn = 1;
