// Package connect implements the Atlassian Connect protocol for Jira Cloud
// apps: the canonical request and query-string hash (qsh), the app
// descriptor, the verifiers for each kind of incoming JWT (signed install,
// request and context tokens), the lifecycle payload, and the tokens the app
// mints for its own calls to Jira.
//
// Subpackages hold the larger parts: the Connect scope model, the endpoint
// catalog, the diagnosis engine and the Jira simulator.
package connect
