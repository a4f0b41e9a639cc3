// Package manifest writes and checks Forge manifest.yml files for a Connect
// Doctor backend (forge.md §1.1, §2.2, §2.4, §2.7, §5.8–9).
//
// Generate produces a deterministic, commented manifest in one of two modes:
// ModeForge (Forge modules and a Forge Remote only; the only mode a new app
// may use) and ModeConnectOnForge (existing Marketplace Connect apps only:
// connectModules beside the Forge Remote, until Connect's end of support).
//
// Convert (to-forge) turns any vendor's atlassian-connect.json, as vendors
// keep it (JSON5, ACE and Spring placeholders), into a Connect-on-Forge
// manifest and a migration report; a pure conversion unless Extras ask for
// more. Its module table (data/forge-schema.json) is generated from the
// pinned @forge/manifest; hand-kept notes and auth paths are data files too.
//
// Check validates a manifest offline: the rules @forge/manifest's validate()
// enforces that forge.md records, plus checks no Atlassian tool does (every
// Jira operation the app calls is covered by an OAuth 2.0 scope; Connect
// scopes on a Forge-only path). Each Problem names the line and the fix.
package manifest
