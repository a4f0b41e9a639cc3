-- Single-use install tokens (issue 16 item 6). The RS256 token Atlassian
-- signs for the installed and uninstalled callbacks covers the method and
-- path (qsh) but not the body, so a captured token could be posted again,
-- within its lifetime, with another sharedSecret. Each accepted token is
-- remembered here by the SHA-256 of its signed part (header.claims) until it
-- expires, with the SHA-256 of the body it came with; the table is shared by
-- every instance of the app. The same token with the same body again (a
-- redelivery) is harmless and accepted; with another body it is refused. Expired rows are pruned by the app's purge loop.
-- Portable SQL for PostgreSQL and SQLite, like 00001.

-- +goose Up
CREATE TABLE used_tokens (
    token_hash  VARCHAR(64)  NOT NULL PRIMARY KEY,
    kind        VARCHAR(32)  NOT NULL,
    body_hash   VARCHAR(64)  NOT NULL DEFAULT '',
    expires_at  TIMESTAMP    NOT NULL,
    created_at  TIMESTAMP    NOT NULL
);
CREATE INDEX used_tokens_expires_at ON used_tokens (expires_at);

-- +goose Down
DROP TABLE used_tokens;
