// Package app is the composition root: it reads nothing from the
// environment itself, but wires a configuration into a running Connect
// Doctor (database and stores, Connect and Forge verifiers, the Jira client,
// the admin panel and the HTTP server) and the observability around them.
// cmd/connect-doctor, the dev mode, the load programs and the end-to-end
// tests all build the application here, the same way.
package app
