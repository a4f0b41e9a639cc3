// Package manifest writes and checks Forge manifest.yml files for a Connect
// Doctor backend (forge.md §1.1, §2.2, §2.4, §2.7, §5.8–9).
//
// Generate produces a deterministic, commented manifest in one of two modes:
// ModeForge (Forge modules and a Forge Remote only; the only mode a new app
// may use) and ModeConnectOnForge (existing Marketplace Connect apps only:
// connectModules beside the Forge Remote, until Connect's end of support).
//
// Check validates a manifest offline: the rules @forge/manifest's validate()
// enforces that forge.md records, plus checks no Atlassian tool does (every
// Jira operation the app calls is covered by an OAuth 2.0 scope; Connect
// scopes on a Forge-only path). Each Problem names the line and the fix.
package manifest
