-- Forge reinstalls (issue 15 part 5): a reinstall gives the site a new
-- installation id (Forge Remote essentials: "If you reinstall an app the
-- installationId will change"), while the site's cloudId stays. When a
-- verified lifecycle event or scheduled trigger brings a new installation
-- of the same app and environment on the same cloudId, the new row takes
-- over the earlier installation's record: its check history and lifecycle
-- log move to the new id, its link to a Connect tenant moves with them,
-- and the earlier row keeps only replaced_by = the new installation id
-- (state uninstalled, no token), so the chain stays visible. Portable SQL
-- for PostgreSQL and SQLite, like 00001.

-- +goose Up
ALTER TABLE forge_installations ADD COLUMN replaced_by VARCHAR(255);
CREATE INDEX forge_installations_replaced_by ON forge_installations (replaced_by);

-- +goose Down
DROP INDEX forge_installations_replaced_by;
ALTER TABLE forge_installations DROP COLUMN replaced_by;
