// Package jirasim is a simulated Jira Cloud site for end-to-end tests and
// local development. It is the other side of the wire from the app: it
// speaks the Atlassian Connect protocol the way Jira and Atlassian's servers
// do (connect-protocol.md §1 and §3) and never imports the app's packages.
//
// New starts three loopback servers, each on its own 127.0.0.1 port:
//
//   - the site (URL): the Jira REST API enforcing authentication, Connect
//     scopes and user permissions for every operation of the endpoint
//     catalog, the admin host page that embeds an app's adminPages module in
//     an iframe with a signed URL, and the AP host bridge script;
//   - the install key server (KeyServerURL): GET /<kid> answers the PEM
//     public key that signs install and uninstall callbacks;
//   - the OAuth 2.0 authorization server (AuthServerURL): POST /oauth2/token
//     implementing the JWT-bearer grant used for user impersonation.
//
// InstallApp, Uninstall, Enable and Disable drive the app's lifecycle
// callbacks exactly as Jira signs them. Faults (SetFault) reproduce what the
// real infrastructure does when something goes wrong: clock skew, rate
// limiting, outages, a WAF block page, a proxy-cached 401, an IP allowlist,
// and the key and token servers being down.
//
// Everything random comes from a generator seeded by Options.Seed, and all
// time from Options.Now, so tests are deterministic.
//
// Where Atlassian's real status or wording is not confirmed by the protocol
// notes, the simulator makes it an Options field whose default is the
// documented best guess, so tests can cover both behaviours.
package jirasim
