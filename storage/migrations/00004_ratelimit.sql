-- Shared rate-limit state of every instance of the app (issue 17): the
-- points ledger per quota window (rate_windows: the app's pool; rate_spend:
-- each tenant's leased points), the pauses Jira's 429s imposed
-- (rate_pauses, one row per scope, seq ordered by rate_seq so that other
-- instances can poll for what changed). Times are Unix milliseconds.
-- Portable SQL for PostgreSQL and SQLite, like 00001.

-- +goose Up
CREATE TABLE rate_windows (
    window_start BIGINT NOT NULL PRIMARY KEY,
    budget       BIGINT NOT NULL,
    quota        BIGINT NOT NULL DEFAULT 0,
    spent        BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE rate_spend (
    window_start BIGINT       NOT NULL,
    client_key   VARCHAR(255) NOT NULL,
    spent        BIGINT       NOT NULL DEFAULT 0,
    PRIMARY KEY (window_start, client_key)
);
CREATE TABLE rate_seq (
    id INTEGER NOT NULL PRIMARY KEY,
    n  BIGINT  NOT NULL
);
INSERT INTO rate_seq (id, n) VALUES (1, 0);
CREATE TABLE rate_pauses (
    scope_key  VARCHAR(1024) NOT NULL PRIMARY KEY,
    scope      SMALLINT      NOT NULL,
    client_key VARCHAR(255)  NOT NULL DEFAULT '',
    method     VARCHAR(8)    NOT NULL DEFAULT '',
    endpoint   VARCHAR(512)  NOT NULL DEFAULT '',
    issue      VARCHAR(128)  NOT NULL DEFAULT '',
    reason     VARCHAR(128)  NOT NULL,
    until_ms   BIGINT        NOT NULL,
    seq        BIGINT        NOT NULL
);
CREATE INDEX rate_pauses_seq ON rate_pauses (seq);

-- +goose Down
DROP TABLE rate_pauses;
DROP TABLE rate_seq;
DROP TABLE rate_spend;
DROP TABLE rate_windows;
