-- Foundation schema: source data (src) and the program state shared by every stage (ops).
-- Runs on DuckDB and PostgreSQL. All timestamps are UTC, stored without a time zone.

CREATE SCHEMA IF NOT EXISTS src;
CREATE SCHEMA IF NOT EXISTS ops;
CREATE SCHEMA IF NOT EXISTS marts;

-- src.accounts: one row per customer account (company).
CREATE TABLE src.accounts (
    account_id   VARCHAR PRIMARY KEY,
    name         VARCHAR NOT NULL,
    industry     VARCHAR NOT NULL,
    segment      VARCHAR NOT NULL,      -- SMB, Mid-Market, Enterprise
    region       VARCHAR NOT NULL,      -- EMEA, North America, APAC, LATAM
    arr          DECIMAL(14, 2) NOT NULL,
    owner_name   VARCHAR NOT NULL,      -- the account manager
    owner_email  VARCHAR NOT NULL,
    created_at   TIMESTAMP NOT NULL
);

-- src.contacts: one row per person at an account who may be surveyed.
CREATE TABLE src.contacts (
    contact_id   VARCHAR PRIMARY KEY,
    account_id   VARCHAR NOT NULL,
    first_name   VARCHAR NOT NULL,
    last_name    VARCHAR NOT NULL,
    email        VARCHAR NOT NULL,
    role         VARCHAR NOT NULL,      -- decision_maker, influencer, user
    locale       VARCHAR NOT NULL,      -- en, pl
    consent      BOOLEAN NOT NULL,      -- agreed to be surveyed
    created_at   TIMESTAMP NOT NULL
);

-- src.touchpoint_events: one row per customer touchpoint (ticket closed, delivery, ...).
-- contact_id is set when the event concerns one person; NULL means the whole account.
CREATE TABLE src.touchpoint_events (
    event_id     VARCHAR PRIMARY KEY,
    account_id   VARCHAR NOT NULL,
    contact_id   VARCHAR,
    touchpoint   VARCHAR NOT NULL,
    occurred_at  TIMESTAMP NOT NULL
);

-- src.contracts: contract history; an account is a customer on every day a contract covers.
-- end_date NULL = still running; ended_reason: renewed (a successor follows) or churned.
CREATE TABLE src.contracts (
    contract_id  VARCHAR PRIMARY KEY,
    account_id   VARCHAR NOT NULL,
    start_date   DATE NOT NULL,
    end_date     DATE,
    arr          DECIMAL(14, 2) NOT NULL,
    ended_reason VARCHAR
);

-- ops.survey_invitations: the send ledger, one row per (contact, survey, cycle) under a unique
-- send key, claimed before the send and marked sent with the provider's message id after it.
-- survey_id is what the signed token in every link carries.
CREATE TABLE ops.survey_invitations (
    send_key            VARCHAR PRIMARY KEY,
    survey_id           VARCHAR NOT NULL UNIQUE,
    run_id              VARCHAR NOT NULL,
    cycle               VARCHAR NOT NULL,
    program             VARCHAR NOT NULL,   -- relationship, transactional
    survey_type         VARCHAR NOT NULL,   -- nps, csat, ces
    touchpoint          VARCHAR,            -- NULL for relationship surveys
    touchpoint_event_id VARCHAR,
    contact_id          VARCHAR NOT NULL,
    account_id          VARCHAR NOT NULL,
    locale              VARCHAR NOT NULL,
    status              VARCHAR NOT NULL,   -- claimed, sent, failed
    transport           VARCHAR,            -- sendgrid, outbox, smtp
    provider_message_id VARCHAR,
    claimed_at          TIMESTAMP NOT NULL,
    sent_at             TIMESTAMP,
    delivery_status     VARCHAR,            -- latest of processed, deferred, delivered, bounce, dropped
    delivery_updated_at TIMESTAMP
);

-- ops.suppressions: addresses never to be surveyed again (unsubscribe, bounce, dropped,
-- spamreport, group_unsubscribe, manual). One row per address and reason.
CREATE TABLE ops.suppressions (
    email        VARCHAR NOT NULL,
    reason       VARCHAR NOT NULL,
    contact_id   VARCHAR,
    source       VARCHAR NOT NULL,      -- the event file or the person who added it
    occurred_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (email, reason)
);

-- ops.raw_responses: every valid answer as received, one row per response; a survey answered
-- twice keeps both rows, and the latest responded_at counts downstream.
CREATE TABLE ops.raw_responses (
    response_id  VARCHAR PRIMARY KEY,   -- hash of survey_id, responded_at, score and comment
    survey_id    VARCHAR NOT NULL,
    survey_type  VARCHAR NOT NULL,
    score        INTEGER NOT NULL,
    comment      VARCHAR,
    responded_at TIMESTAMP NOT NULL,
    locale       VARCHAR,
    file_id      VARCHAR NOT NULL,
    source_line  BIGINT NOT NULL,
    loaded_at    TIMESTAMP NOT NULL
);

-- ops.email_events: SendGrid Event Webhook events, deduplicated on event_key.
CREATE TABLE ops.email_events (
    event_key    VARCHAR PRIMARY KEY,   -- sg_event_id, or a hash of send_key, event and timestamp
    send_key     VARCHAR,
    survey_id    VARCHAR,
    event        VARCHAR NOT NULL,
    email        VARCHAR,
    reason       VARCHAR,
    occurred_at  TIMESTAMP NOT NULL,
    file_id      VARCHAR NOT NULL,
    loaded_at    TIMESTAMP NOT NULL
);
