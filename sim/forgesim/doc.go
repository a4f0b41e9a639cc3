// Package forgesim simulates the Forge side of a Forge Remote for tests and
// local development (no real Forge is reachable):
//
//   - KeyHost and Minter: a JWKS host on loopback and a Forge Invocation
//     Token minter with configurable claims, kid, alg and lifetime
//     (including key rotation and deliberately broken tokens);
//   - Gateway: the https://api.atlassian.com stand-in. It serves the Jira
//     REST API under /ex/jira/<cloudId>/rest/… to Forge OAuth bearer tokens
//     it issued (system, user, offline user), enforces each operation's
//     OAuth scopes from the endpoint catalog with the real 401/403 texts
//     (forge.md §3 O1, O2), expires and revokes tokens, implements the
//     GraphQL offlineUserAuthToken mutation (§1.4), and with SiteHandler
//     plays a Jira site refusing such a token (§3 O5);
//   - Invoker: Forge calling the remote with the §1.2 headers, per-kind
//     timeouts (25 s UI, 5 s events, 55 s preUninstall) and the lifecycle
//     retry policy with retryContext (§1.5), plus requestRemote (FIT only);
//   - lifecycle event builders (avi:forge:installed:app, …:upgraded:app)
//     and Site, which bundles all of the above for one installation.
//
// It depends on no application package beyond the endpoint catalog, so it
// can drive any FIT verifier and any Forge product client.
package forgesim
