package preflight

import (
	"slices"
	"testing"

	"github.com/connect-doctor/connect-doctor/jira/catalog"
)

func TestPredictForgePath(t *testing.T) {
	cat := catalog.Default()
	granted := []string{"read:jira-work", "read:jira-user", "read:app-system-token", "read:app-user-token"}
	admin := NewPermissions(map[string]bool{KeyAdminister: true})
	tests := []struct {
		name        string
		method      string
		path        string
		identity    Identity
		scopes      []string
		perms       *Permissions
		want        Outcome
		status      int
		wantMissing []string
	}{
		{"classic scope granted", "GET", "/rest/api/3/myself", App, granted, nil, Allowed, 200, nil},
		{"user token, no ACT_AS_USER needed on Forge", "GET", "/rest/api/2/myself", User, granted, nil, Allowed, 200, nil},
		{"write scope missing for the system token", "POST", "/rest/api/3/issue", App, granted, nil, OAuthScopeMissing, 401, []string{"write:jira-work"}},
		{"write scope missing for a user token", "POST", "/rest/api/3/issue", User, granted, nil, OAuthScopeMissing, 403, []string{"write:jira-work"}},
		{"granular set complete", "POST", "/rest/api/3/issue", User,
			[]string{"write:issue:jira", "write:comment:jira", "write:comment.property:jira", "write:attachment:jira", "read:issue:jira"}, nil, Allowed, 200, nil},
		{"inaccessible to Connect but reachable with OAuth", "GET", "/rest/api/2/settings/columns", App,
			append(slices.Clone(granted), "manage:jira-configuration"), admin, Allowed, 200, nil},
		{"anonymous operation needs no scope", "GET", "/rest/api/3/serverInfo", App, nil, nil, Allowed, 200, nil},
		{"granted scopes unknown", "POST", "/rest/api/3/issue", App, nil, nil, ScopesUnknown, 0, nil},
		{"admin operation, viewer not admin", "GET", "/rest/api/3/application-properties/advanced-settings", User,
			append(slices.Clone(granted), "manage:jira-configuration"), NewPermissions(map[string]bool{KeyAdminister: false}), NeedsAdmin, 403, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Predict(cat, Input{Method: tt.method, Path: tt.path, Identity: tt.identity, Forge: true, OAuthScopes: tt.scopes, Permissions: tt.perms})
			if r.Outcome != tt.want || r.Status != tt.status {
				t.Fatalf("outcome %s %d (%s), want %s %d", r.Outcome, r.Status, r.Reason, tt.want, tt.status)
			}
			if !slices.Equal(r.MissingOAuthScopes, tt.wantMissing) {
				t.Fatalf("missing %v, want %v", r.MissingOAuthScopes, tt.wantMissing)
			}
			if r.Outcome == ActAsUserMissing || r.Outcome == Inaccessible {
				t.Fatalf("a Connect-only outcome on the Forge path: %s", r.Outcome)
			}
		})
	}
}
