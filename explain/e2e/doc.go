// Package e2e holds the end-to-end suite of the diagnosis engine: it drives
// every failure the Jira simulator (sim/jirasim) can produce with real
// HTTP requests, feeds each captured exchange to explain with the
// context the admin panel or the CLI would have, and checks that the true
// cause ranks first. The suite prints the hit rate as
// "explainer e2e hit rate: N/M (P%)".
//
// The package has no exported API; everything lives in its tests.
package e2e
