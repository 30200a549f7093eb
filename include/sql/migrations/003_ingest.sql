-- Response ingestion (issue 4): the file registry + audit, and the quarantine.
-- Runs on DuckDB and PostgreSQL. All timestamps are UTC, stored without a time zone.

-- ops.ingest_files: one row per landed file VERSION (grain: path + content checksum), written
-- when the file is finished; it is the audit. For every file:
--   rows_read = rows_loaded + rows_quarantined + rows_duplicate  (the task fails if not).
-- status: loaded (rows went through validation) or rejected (the whole file could not be parsed;
-- reason says why, the file sits in rejected/).
CREATE TABLE ops.ingest_files (
    file_id          VARCHAR PRIMARY KEY,   -- hash of the landing-relative path and the checksum
    kind             VARCHAR NOT NULL,      -- responses, events
    path             VARCHAR NOT NULL,      -- relative to the landing root, e.g. responses/2026-11-03.csv
    checksum         VARCHAR NOT NULL,      -- sha256 of the file's bytes
    size_bytes       BIGINT NOT NULL,
    file_format      VARCHAR,               -- csv, jsonl, json
    status           VARCHAR NOT NULL,      -- loaded, rejected
    reason           VARCHAR,               -- why a file was rejected
    rows_read        BIGINT NOT NULL,
    rows_loaded      BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    rows_duplicate   BIGINT NOT NULL,       -- exact duplicates of rows already in the warehouse
    rows_security    BIGINT NOT NULL,       -- of rows_quarantined, security findings
    archived_to      VARCHAR,               -- where the file went (archive/ or rejected/)
    started_at       TIMESTAMP NOT NULL,
    finished_at      TIMESTAMP NOT NULL
);

-- ops.quarantine: one row per input row that was not loaded (grain: file + line number).
-- category: security (forged/altered token, survey never dispatched, wrong survey type, answer
-- that fits another survey type only) or validation (everything else). The original line is
-- kept verbatim, so a fixed copy can be re-dropped.
CREATE TABLE ops.quarantine (
    file_id        VARCHAR NOT NULL,
    line_number    BIGINT NOT NULL,        -- physical line in the file; events: position in the batch
    path           VARCHAR NOT NULL,
    kind           VARCHAR NOT NULL,       -- responses, events
    category       VARCHAR NOT NULL,       -- security, validation
    rule           VARCHAR NOT NULL,       -- the first rule broken, e.g. score_range, token_signature
    reason         VARCHAR NOT NULL,       -- every rule broken, in words
    survey_id      VARCHAR,                -- when the token could be read
    original_line  VARCHAR NOT NULL,
    quarantined_at TIMESTAMP NOT NULL,
    PRIMARY KEY (file_id, line_number)
);
