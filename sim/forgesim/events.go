package forgesim

import "strings"

// Lifecycle event types (forge.md §1.5).
const (
	EventInstalled = "avi:forge:installed:app"
	EventUpgraded  = "avi:forge:upgraded:app"
)

// The remote's routes the simulator delivers to (issue 8's interface).
const (
	LifecyclePath    = "/forge/lifecycle"
	ScheduledPath    = "/forge/scheduled"
	PreUninstallPath = "/forge/pre-uninstall"
)

// Event is a JSON event body delivered to a remote.
type Event map[string]any

// EventOption adjusts an event.
type EventOption func(Event)

// WithAccountID sets installerAccountId (installed) or upgraderAccountId
// (upgraded).
func WithAccountID(accountID string) EventOption {
	return func(e Event) {
		if e["eventType"] == EventUpgraded {
			e["upgraderAccountId"] = accountID
		} else {
			e["installerAccountId"] = accountID
		}
	}
}

// WithAppVersion sets app.version (default "1.0.0").
func WithAppVersion(v string) EventOption {
	return func(e Event) { e["app"].(map[string]any)["version"] = v }
}

// WithEnvironmentID sets environment.id.
func WithEnvironmentID(id string) EventOption {
	return func(e Event) { e["environment"] = map[string]any{"id": id} }
}

// WithBareAppID writes app.id as a bare UUID, as the docs example does.
func WithBareAppID() EventOption {
	return func(e Event) {
		app := e["app"].(map[string]any)
		app["id"] = strings.TrimPrefix(app["id"].(string), "ari:cloud:ecosystem::app/")
	}
}

// WithoutEventType removes eventType and context, the two fields that only
// third-party handlers report (forge.md §1.5).
func WithoutEventType() EventOption {
	return func(e Event) { delete(e, "eventType"); delete(e, "context") }
}

func lifecycle(eventType, installationID, appID, cloudID string, opts []EventOption) Event {
	e := Event{
		"eventType": eventType,
		"id":        installationID,
		"app":       map[string]any{"id": appID, "version": "1.0.0"},
		"context":   SiteARI(cloudID),
	}
	for _, o := range opts {
		o(e)
	}
	return e
}

// InstalledEvent builds avi:forge:installed:app: id (the installation id),
// installerAccountId?, app {id, version}, environment? {id} (forge.md §1.5),
// plus eventType and context "ari:cloud:jira::site/<cloudId>", which
// third-party handlers see (remove them with WithoutEventType). siteURL is
// not part of the documented payload and is not sent; it is accepted so that
// callers describe the site the same way everywhere.
func InstalledEvent(installationID, appID, cloudID, siteURL string, opts ...EventOption) Event {
	_ = siteURL
	return lifecycle(EventInstalled, installationID, appID, cloudID, opts)
}

// UpgradedEvent builds avi:forge:upgraded:app (sent only for major
// upgrades): the installed fields plus permissions {scopes[], external{}}.
func UpgradedEvent(installationID, appID, cloudID, siteURL string, scopes []string, opts ...EventOption) Event {
	_ = siteURL
	e := lifecycle(EventUpgraded, installationID, appID, cloudID, nil)
	if scopes == nil {
		scopes = []string{}
	}
	e["permissions"] = map[string]any{"scopes": scopes, "external": map[string]any{}}
	for _, o := range opts {
		o(e)
	}
	return e
}

// ScheduledEvent is the body of a scheduledTrigger delivery. forge.md does
// not document it; this shape is an assumption: {"context": {"cloudId",
// "moduleKey"}, "installationId"}.
func ScheduledEvent(installationID, cloudID, moduleKey string) Event {
	return Event{"context": map[string]any{"cloudId": cloudID, "moduleKey": moduleKey}, "installationId": installationID}
}

// PreUninstallEvent is the body of a preUninstall delivery. forge.md does
// not document it (only that the docs page's example carries a Forge context
// token); this shape is an assumption: {"context": {"cloudId",
// "moduleKey"}, "installationId", "app": {"id"}}.
func PreUninstallEvent(installationID, appID, cloudID string) Event {
	return Event{"context": map[string]any{"cloudId": cloudID, "moduleKey": "pre-uninstall"}, "installationId": installationID,
		"app": map[string]any{"id": appID}}
}
