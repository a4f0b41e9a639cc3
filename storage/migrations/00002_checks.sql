-- Check history of the admin panel: one row per check an administrator (or
-- a user, as themselves) ran from the panel, per tenant, newest first by id
-- (ids sort by creation time). result holds the JSON the panel shows when a
-- check is reopened: request, trimmed response, preflight and diagnosis; it
-- never holds a token or a shared secret. Retention is bounded per tenant by
-- the application (CHECK_HISTORY_LIMIT). Portable SQL for PostgreSQL and
-- SQLite, like 00001.

-- +goose Up
CREATE TABLE checks (
    id          VARCHAR(32)   NOT NULL PRIMARY KEY,
    client_key  VARCHAR(255)  NOT NULL,
    account_id  VARCHAR(128)  NOT NULL DEFAULT '',
    identity    VARCHAR(8)    NOT NULL,
    method      VARCHAR(8)    NOT NULL,
    path        VARCHAR(2048) NOT NULL,
    status      INTEGER       NOT NULL DEFAULT 0,
    duration_ms BIGINT        NOT NULL DEFAULT 0,
    outcome     VARCHAR(32)   NOT NULL DEFAULT '',
    cause       VARCHAR(64)   NOT NULL DEFAULT '',
    summary     VARCHAR(512)  NOT NULL DEFAULT '',
    result      TEXT          NOT NULL,
    created_at  TIMESTAMP     NOT NULL
);
CREATE INDEX checks_client_key_id ON checks (client_key, id);

-- +goose Down
DROP TABLE checks;
