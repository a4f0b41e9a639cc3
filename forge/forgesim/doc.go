// Package forgesim simulates the Forge side of a Forge Remote for tests and
// local development: a JWKS host on loopback, a Forge Invocation Token
// minter with configurable claims, kid, alg and lifetime (including key
// rotation and deliberately broken tokens), opaque-looking Forge OAuth
// tokens, and the request headers Forge sends to a remote (forge.md §1.2).
//
// It depends on no application package, so it can drive any FIT verifier.
package forgesim
