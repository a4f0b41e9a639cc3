-- Forge Remote installations (issue 8): one row per Forge installation of
-- the app in a site, keyed by the installation ARI that Forge puts in every
-- invocation token (app.installationId; it survives upgrades and changes on
-- reinstall). A row is linked to a Connect tenant (tenants.client_key) when
-- the Connect install payload carried the same installationId; when only
-- the cloudId or site URL matches, the Connect tenant is recorded as a link
-- candidate that an administrator confirms (POST /forge/api/link).
--
-- The app system token (x-forge-oauth-system) is stored only as
-- AES-256-GCM ciphertext bound to installation_id, with its expiry, so a
-- stored token is replaced only by one that expires later. Existing tables
-- are not touched. Portable SQL for PostgreSQL and SQLite, like 00001.

-- +goose Up
CREATE TABLE forge_installations (
    installation_id           VARCHAR(255) NOT NULL PRIMARY KEY,
    app_id                    VARCHAR(255) NOT NULL,
    environment_type          VARCHAR(32)  NOT NULL DEFAULT '',
    environment_id            VARCHAR(255) NOT NULL DEFAULT '',
    cloud_id                  VARCHAR(255) NOT NULL DEFAULT '',
    site_url                  VARCHAR(512) NOT NULL DEFAULT '',
    api_base_url              VARCHAR(512) NOT NULL DEFAULT '',
    app_version               VARCHAR(64)  NOT NULL DEFAULT '',
    scopes                    TEXT         NOT NULL DEFAULT '',
    client_key                VARCHAR(255),
    link_candidate            VARCHAR(255),
    system_token_enc          TEXT         NOT NULL DEFAULT '',
    system_token_expires_at   TIMESTAMP,
    state                     VARCHAR(16)  NOT NULL,
    installed_at              TIMESTAMP    NOT NULL,
    updated_at                TIMESTAMP    NOT NULL
);
CREATE INDEX forge_installations_cloud_id ON forge_installations (cloud_id);
CREATE INDEX forge_installations_client_key ON forge_installations (client_key);

-- +goose Down
DROP TABLE forge_installations;
