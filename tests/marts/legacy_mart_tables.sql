-- The mart tables as the hand-written migrations left them (004 with 005's dropped previous_score,
-- and 030), copied from those migrations before the tables came from include/sql/marts/<mart>.yml.
-- tests/marts/test_mart_tables.py creates them in a schema `legacy` and checks that the tables
-- made from the definitions equal them column for column (name, type, NOT NULL) on both engines.

-- marts.fct_survey_responses: one row per counted answer (the latest answer per survey).
CREATE TABLE legacy.fct_survey_responses (
    response_id      VARCHAR NOT NULL,
    survey_id        VARCHAR NOT NULL,
    survey_type      VARCHAR NOT NULL,
    program          VARCHAR NOT NULL,
    touchpoint       VARCHAR,
    score            INTEGER NOT NULL,
    category         VARCHAR NOT NULL,
    comment          VARCHAR,
    answers_received INTEGER NOT NULL,
    sent_at          TIMESTAMP,
    responded_at     TIMESTAMP NOT NULL,
    response_date    DATE NOT NULL,
    account_id       VARCHAR NOT NULL,
    account_name     VARCHAR,
    contact_id       VARCHAR NOT NULL,
    role             VARCHAR,
    industry         VARCHAR,
    segment          VARCHAR,
    region           VARCHAR,
    account_arr      DECIMAL(14, 2),
    account_owner    VARCHAR,
    locale           VARCHAR
);

-- marts.mart_nps: NPS per (period_grain, period_start, dimension, dimension_value).
CREATE TABLE legacy.mart_nps (
    period_grain       VARCHAR NOT NULL,
    period_start       DATE NOT NULL,
    period_end         DATE NOT NULL,
    dimension          VARCHAR NOT NULL,
    dimension_value    VARCHAR NOT NULL,
    promoters          BIGINT NOT NULL,
    passives           BIGINT NOT NULL,
    detractors         BIGINT NOT NULL,
    responses          BIGINT NOT NULL,
    nps                DECIMAL(9, 2),
    nps_moe            DECIMAL(9, 2),
    nps_adjusted       DECIMAL(9, 2),
    nps_ci_lower       DECIMAL(9, 2),
    nps_ci_upper       DECIMAL(9, 2),
    prev_responses     BIGINT NOT NULL,
    prev_nps           DECIMAL(9, 2),
    nps_change         DECIMAL(9, 2),
    change_significant BOOLEAN
);

-- marts.mart_csat: CSAT per (period_grain, period_start, dimension, dimension_value).
CREATE TABLE legacy.mart_csat (
    period_grain       VARCHAR NOT NULL,
    period_start       DATE NOT NULL,
    period_end         DATE NOT NULL,
    dimension          VARCHAR NOT NULL,
    dimension_value    VARCHAR NOT NULL,
    satisfied          BIGINT NOT NULL,
    neutral            BIGINT NOT NULL,
    dissatisfied       BIGINT NOT NULL,
    responses          BIGINT NOT NULL,
    csat_pct           DECIMAL(9, 2),
    csat_pct_moe       DECIMAL(9, 2),
    csat_pct_ci_lower  DECIMAL(9, 2),
    csat_pct_ci_upper  DECIMAL(9, 2),
    csat_mean          DECIMAL(9, 2),
    csat_mean_moe      DECIMAL(9, 2),
    prev_responses     BIGINT NOT NULL,
    prev_csat_pct      DECIMAL(9, 2),
    csat_pct_change    DECIMAL(9, 2),
    change_significant BOOLEAN
);

-- marts.mart_ces: CES per (period_grain, period_start, dimension, dimension_value).
CREATE TABLE legacy.mart_ces (
    period_grain       VARCHAR NOT NULL,
    period_start       DATE NOT NULL,
    period_end         DATE NOT NULL,
    dimension          VARCHAR NOT NULL,
    dimension_value    VARCHAR NOT NULL,
    easy               BIGINT NOT NULL,
    neutral            BIGINT NOT NULL,
    high_effort        BIGINT NOT NULL,
    responses          BIGINT NOT NULL,
    ces_mean           DECIMAL(9, 2),
    ces_mean_moe       DECIMAL(9, 2),
    ces_easy_pct       DECIMAL(9, 2),
    ces_easy_pct_moe   DECIMAL(9, 2),
    prev_responses     BIGINT NOT NULL,
    prev_ces_mean      DECIMAL(9, 2),
    ces_mean_change    DECIMAL(9, 2),
    change_significant BOOLEAN
);

-- marts.mart_response_rates: one row per (period_grain, period_start, survey_type, industry, touchpoint).
CREATE TABLE legacy.mart_response_rates (
    period_grain                VARCHAR NOT NULL,
    period_start                DATE NOT NULL,
    period_end                  DATE NOT NULL,
    survey_type                 VARCHAR NOT NULL,
    industry                    VARCHAR NOT NULL,
    touchpoint                  VARCHAR NOT NULL,
    invitations_sent            BIGINT NOT NULL,
    delivered                   BIGINT NOT NULL,
    bounced                     BIGINT NOT NULL,
    answered                    BIGINT NOT NULL,
    response_rate_pct           DECIMAL(9, 2),
    response_rate_delivered_pct DECIMAL(9, 2)
);

-- marts.mart_account_nps: one row per (period_grain, period_start, account_id) with NPS answers.
CREATE TABLE legacy.mart_account_nps (
    period_grain               VARCHAR NOT NULL,
    period_start               DATE NOT NULL,
    period_end                 DATE NOT NULL,
    account_id                 VARCHAR NOT NULL,
    account_name               VARCHAR,
    industry                   VARCHAR,
    segment                    VARCHAR,
    region                     VARCHAR,
    arr                        DECIMAL(14, 2),
    responses                  BIGINT NOT NULL,
    respondents                BIGINT NOT NULL,
    respondents_decision_maker BIGINT NOT NULL,
    respondents_influencer     BIGINT NOT NULL,
    respondents_user           BIGINT NOT NULL,
    promoters                  BIGINT NOT NULL,
    passives                   BIGINT NOT NULL,
    detractors                 BIGINT NOT NULL,
    account_nps                DECIMAL(9, 2),
    mean_score                 DECIMAL(9, 2)
);

-- marts.mart_account_nps_summary: one row per (period_grain, period_start): the B2B roll-ups.
CREATE TABLE legacy.mart_account_nps_summary (
    period_grain               VARCHAR NOT NULL,
    period_start               DATE NOT NULL,
    period_end                 DATE NOT NULL,
    responses                  BIGINT NOT NULL,
    respondents                BIGINT NOT NULL,
    respondents_decision_maker BIGINT NOT NULL,
    respondents_influencer     BIGINT NOT NULL,
    respondents_user           BIGINT NOT NULL,
    accounts_responding        BIGINT NOT NULL,
    respondent_nps             DECIMAL(9, 2),
    account_mean_nps           DECIMAL(9, 2),
    arr_weighted_nps           DECIMAL(9, 2),
    active_accounts            BIGINT NOT NULL,
    active_arr                 DECIMAL(18, 2),
    responding_arr             DECIMAL(18, 2),
    revenue_coverage_pct       DECIMAL(9, 2)
);

-- marts.mart_retention: one row per (period_grain, period_start).
CREATE TABLE legacy.mart_retention (
    period_grain                 VARCHAR NOT NULL,
    period_start                 DATE NOT NULL,
    period_end                   DATE NOT NULL,
    customers_at_start           BIGINT NOT NULL,
    customers_acquired           BIGINT NOT NULL,
    customers_lost               BIGINT NOT NULL,
    customers_at_end             BIGINT NOT NULL,
    retention_rate_pct           DECIMAL(9, 2),
    churn_rate_pct               DECIMAL(9, 2),
    promoter_accounts            BIGINT NOT NULL,
    promoter_churned_next        BIGINT NOT NULL,
    promoter_churn_next_pct      DECIMAL(9, 2),
    passive_accounts             BIGINT NOT NULL,
    passive_churned_next         BIGINT NOT NULL,
    passive_churn_next_pct       DECIMAL(9, 2),
    detractor_accounts           BIGINT NOT NULL,
    detractor_churned_next       BIGINT NOT NULL,
    detractor_churn_next_pct     DECIMAL(9, 2)
);

-- marts.mart_churn_risk: one row per account that is a customer on the build date.
CREATE TABLE legacy.mart_churn_risk (
    as_of                  TIMESTAMP NOT NULL,
    risk_rank              BIGINT NOT NULL,
    account_id             VARCHAR NOT NULL,
    account_name           VARCHAR,
    industry               VARCHAR,
    segment                VARCHAR,
    region                 VARCHAR,
    owner_name             VARCHAR,
    arr                    DECIMAL(14, 2),
    nps_respondents        BIGINT NOT NULL,
    nps_mean_score         DECIMAL(9, 2),
    nps_category           VARCHAR,
    last_response_at       TIMESTAMP,
    recent_detractor       BOOLEAN NOT NULL,
    score_drop             BOOLEAN NOT NULL,
    low_csat               BOOLEAN NOT NULL,
    high_effort            BOOLEAN NOT NULL,
    no_answer_two_cycles   BOOLEAN NOT NULL,
    overdue_detractor_case BOOLEAN,
    risk_points            INTEGER NOT NULL,
    risk_level             VARCHAR NOT NULL,
    reasons                VARCHAR NOT NULL,
    arr_at_risk_short_term DECIMAL(14, 2) NOT NULL,
    arr_at_risk_long_term  DECIMAL(14, 2) NOT NULL,
    arr_at_risk            DECIMAL(14, 2) NOT NULL
);

-- marts.fct_comment_themes: one row per (response_id, theme) for comments that mention a theme.
CREATE TABLE legacy.fct_comment_themes (
    response_id     VARCHAR NOT NULL,
    theme           VARCHAR NOT NULL,
    matched_keyword VARCHAR NOT NULL,
    survey_type     VARCHAR NOT NULL,
    category        VARCHAR NOT NULL,
    account_id      VARCHAR NOT NULL,
    industry        VARCHAR,
    segment         VARCHAR,
    locale          VARCHAR,
    responded_at    TIMESTAMP NOT NULL
);

-- marts.mart_comment_themes: theme shares per (period_grain, period_start, survey_type,
-- category, dimension, dimension_value, theme).
CREATE TABLE legacy.mart_comment_themes (
    period_grain    VARCHAR NOT NULL,
    period_start    DATE NOT NULL,
    period_end      DATE NOT NULL,
    survey_type     VARCHAR NOT NULL,
    category        VARCHAR NOT NULL,
    dimension       VARCHAR NOT NULL,
    dimension_value VARCHAR NOT NULL,
    theme           VARCHAR NOT NULL,
    comments        BIGINT NOT NULL,
    theme_comments  BIGINT NOT NULL,
    theme_share_pct DECIMAL(9, 2)
);

-- marts.fct_followups: one row per counted answer's follow-up decision (grain: survey_id).
CREATE TABLE legacy.fct_followups (
    as_of                   TIMESTAMP NOT NULL,
    survey_id               VARCHAR NOT NULL,
    survey_type             VARCHAR NOT NULL,
    score                   INTEGER NOT NULL,
    category                VARCHAR NOT NULL,
    rule                    VARCHAR NOT NULL,
    template                VARCHAR,
    referral_ask            BOOLEAN NOT NULL,
    status                  VARCHAR NOT NULL,
    reason                  VARCHAR NOT NULL,
    responded_at            TIMESTAMP NOT NULL,
    response_date           DATE NOT NULL,
    email_due_at            TIMESTAMP NOT NULL,
    sent_at                 TIMESTAMP,
    changed_after_send      INTEGER NOT NULL,
    account_id              VARCHAR NOT NULL,
    account_name            VARCHAR,
    industry                VARCHAR,
    segment                 VARCHAR,
    region                  VARCHAR,
    owner_name              VARCHAR,
    arr                     DECIMAL(14, 2),
    contact_id              VARCHAR NOT NULL,
    locale                  VARCHAR,
    case_id                 VARCHAR,
    case_status             VARCHAR,
    case_opened_at          TIMESTAMP,
    case_due_at             TIMESTAMP,
    case_first_action_at    TIMESTAMP,
    case_resolved_at        TIMESTAMP,
    escalation_level        INTEGER,
    case_overdue            BOOLEAN,
    needs_followup          BOOLEAN NOT NULL,
    first_response_at       TIMESTAMP,
    response_due_at         TIMESTAMP,
    within_sla              BOOLEAN,
    hours_to_first_response DECIMAL(12, 2),
    next_responded_at       TIMESTAMP,
    next_score              INTEGER,
    next_category           VARCHAR,
    recovered               BOOLEAN
);

-- marts.mart_followups: per (period_grain, period_start, survey_type, category, owner_name, industry).
CREATE TABLE legacy.mart_followups (
    period_grain                   VARCHAR NOT NULL,
    period_start                   DATE NOT NULL,
    period_end                     DATE NOT NULL,
    survey_type                    VARCHAR NOT NULL,
    category                       VARCHAR NOT NULL,
    owner_name                     VARCHAR NOT NULL,
    industry                       VARCHAR NOT NULL,
    answers                        BIGINT NOT NULL,
    needing_followup               BIGINT NOT NULL,
    followed_up                    BIGINT NOT NULL,
    sla_measured                   BIGINT NOT NULL,
    within_sla                     BIGINT NOT NULL,
    within_sla_pct                 DECIMAL(9, 2),
    median_hours_to_first_response DECIMAL(12, 2),
    p90_hours_to_first_response    DECIMAL(12, 2),
    emails_sent                    BIGINT NOT NULL,
    cases_opened                   BIGINT NOT NULL,
    cases_sla_measured             BIGINT NOT NULL,
    cases_within_sla               BIGINT NOT NULL,
    cases_open                     BIGINT NOT NULL,
    cases_overdue                  BIGINT NOT NULL,
    cases_escalated                BIGINT NOT NULL
);

-- marts.mart_loop_recovery: per (period_grain, period_start, survey_type, contacted_within_sla).
CREATE TABLE legacy.mart_loop_recovery (
    period_grain           VARCHAR NOT NULL,
    period_start           DATE NOT NULL,
    period_end             DATE NOT NULL,
    survey_type            VARCHAR NOT NULL,
    contacted_within_sla   BOOLEAN NOT NULL,
    cases                  BIGINT NOT NULL,
    with_next_answer       BIGINT NOT NULL,
    next_positive          BIGINT NOT NULL,
    next_neutral           BIGINT NOT NULL,
    next_negative          BIGINT NOT NULL,
    recovered              BIGINT NOT NULL,
    recovered_pct          DECIMAL(9, 2),
    next_positive_pct      DECIMAL(9, 2),
    mean_case_score        DECIMAL(9, 2),
    mean_next_score        DECIMAL(9, 2)
);
