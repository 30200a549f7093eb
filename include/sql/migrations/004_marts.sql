-- Marts (issue 5): the published, documented marts that BI tools and reports read.
-- Runs on DuckDB and PostgreSQL. Percentages are 0..100, NPS is -100..100, all times UTC.
--
-- Blue/green: every mart exists as a table in two build schemas, marts_blue and marts_green, and
-- as a view marts.<mart> over the one that is published. nps.marts rebuilds the marts in full into
-- the other schema (the staging schema of that build), audits it, and publishes it by repointing
-- the views in one transaction, so a 10M-row fact table is written once per build and readers
-- see the old marts or the new ones, never a mix. ops.mart_builds records which schema is where.
-- Table and column comments live in include/sql/marts/comments.sql (applied on every publish,
-- because DuckDB drops a view's comments when the view is replaced).

CREATE SCHEMA IF NOT EXISTS marts;
CREATE SCHEMA IF NOT EXISTS marts_blue;
CREATE SCHEMA IF NOT EXISTS marts_green;

-- ops.mart_builds: one row per build schema: its status (building, built, audited, published,
-- retired), the instant its marts were built as of, and when the status last changed.
CREATE TABLE ops.mart_builds (
    build_schema VARCHAR PRIMARY KEY,
    status       VARCHAR NOT NULL,
    as_of        TIMESTAMP,
    updated_at   TIMESTAMP NOT NULL
);
INSERT INTO ops.mart_builds (build_schema, status, as_of, updated_at)
VALUES ('marts_blue', 'published', NULL, CAST(CURRENT_TIMESTAMP AS TIMESTAMP)),
       ('marts_green', 'retired', NULL, CAST(CURRENT_TIMESTAMP AS TIMESTAMP));

-- ops.mart_theme_keywords: the comment-theme taxonomy of include/config/program.yaml,
-- one row per (theme, locale, keyword), reloaded from the config on every build.
CREATE TABLE ops.mart_theme_keywords (
    theme    VARCHAR NOT NULL,
    locale   VARCHAR NOT NULL,
    keyword  VARCHAR NOT NULL,
    pattern  VARCHAR NOT NULL,      -- LIKE pattern matching the keyword at the start of a word
    stem     VARCHAR NOT NULL       -- its first 2 characters: candidates are found by equi-join
);

-- ops.mart_calendar: the periods every mart reports, one row per (period_grain, period_start).
CREATE TABLE ops.mart_calendar (
    period_grain VARCHAR NOT NULL,
    period_start DATE NOT NULL,
    period_end   DATE NOT NULL
);

-- ops.mart_account_spans: one row per account that has contracts: the first day it was a
-- customer and the day its last contract ended (NULL while a contract runs), with its ARR.
-- An account is a customer on day D when first_start <= D and (lost_on IS NULL or lost_on > D).
CREATE TABLE ops.mart_account_spans (
    account_id  VARCHAR NOT NULL,
    first_start DATE NOT NULL,
    lost_on     DATE,
    arr         DECIMAL(14, 2)
);

-- marts.fct_survey_responses: one row per counted answer (the latest answer per survey).
CREATE TABLE marts_blue.fct_survey_responses (
    response_id      VARCHAR NOT NULL,
    survey_id        VARCHAR NOT NULL,
    survey_type      VARCHAR NOT NULL,
    program          VARCHAR NOT NULL,
    touchpoint       VARCHAR,
    score            INTEGER NOT NULL,
    category         VARCHAR NOT NULL,
    previous_score   INTEGER,
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
CREATE TABLE marts_blue.mart_nps (
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
CREATE TABLE marts_blue.mart_csat (
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
CREATE TABLE marts_blue.mart_ces (
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
CREATE TABLE marts_blue.mart_response_rates (
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
CREATE TABLE marts_blue.mart_account_nps (
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
CREATE TABLE marts_blue.mart_account_nps_summary (
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
CREATE TABLE marts_blue.mart_retention (
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
CREATE TABLE marts_blue.mart_churn_risk (
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
CREATE TABLE marts_blue.fct_comment_themes (
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
CREATE TABLE marts_blue.mart_comment_themes (
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

-- marts_green: the same tables, empty.
CREATE TABLE marts_green.fct_survey_responses AS SELECT * FROM marts_blue.fct_survey_responses WHERE 1 = 0;
CREATE TABLE marts_green.mart_nps AS SELECT * FROM marts_blue.mart_nps WHERE 1 = 0;
CREATE TABLE marts_green.mart_csat AS SELECT * FROM marts_blue.mart_csat WHERE 1 = 0;
CREATE TABLE marts_green.mart_ces AS SELECT * FROM marts_blue.mart_ces WHERE 1 = 0;
CREATE TABLE marts_green.mart_response_rates AS SELECT * FROM marts_blue.mart_response_rates WHERE 1 = 0;
CREATE TABLE marts_green.mart_account_nps AS SELECT * FROM marts_blue.mart_account_nps WHERE 1 = 0;
CREATE TABLE marts_green.mart_account_nps_summary AS SELECT * FROM marts_blue.mart_account_nps_summary WHERE 1 = 0;
CREATE TABLE marts_green.mart_retention AS SELECT * FROM marts_blue.mart_retention WHERE 1 = 0;
CREATE TABLE marts_green.mart_churn_risk AS SELECT * FROM marts_blue.mart_churn_risk WHERE 1 = 0;
CREATE TABLE marts_green.fct_comment_themes AS SELECT * FROM marts_blue.fct_comment_themes WHERE 1 = 0;
CREATE TABLE marts_green.mart_comment_themes AS SELECT * FROM marts_blue.mart_comment_themes WHERE 1 = 0;

-- marts.<mart>: what BI tools read; published = marts_blue until the first build.
CREATE VIEW marts.fct_survey_responses AS SELECT * FROM marts_blue.fct_survey_responses;
CREATE VIEW marts.mart_nps AS SELECT * FROM marts_blue.mart_nps;
CREATE VIEW marts.mart_csat AS SELECT * FROM marts_blue.mart_csat;
CREATE VIEW marts.mart_ces AS SELECT * FROM marts_blue.mart_ces;
CREATE VIEW marts.mart_response_rates AS SELECT * FROM marts_blue.mart_response_rates;
CREATE VIEW marts.mart_account_nps AS SELECT * FROM marts_blue.mart_account_nps;
CREATE VIEW marts.mart_account_nps_summary AS SELECT * FROM marts_blue.mart_account_nps_summary;
CREATE VIEW marts.mart_retention AS SELECT * FROM marts_blue.mart_retention;
CREATE VIEW marts.mart_churn_risk AS SELECT * FROM marts_blue.mart_churn_risk;
CREATE VIEW marts.fct_comment_themes AS SELECT * FROM marts_blue.fct_comment_themes;
CREATE VIEW marts.mart_comment_themes AS SELECT * FROM marts_blue.mart_comment_themes;
