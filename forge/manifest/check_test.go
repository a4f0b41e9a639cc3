package manifest_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/forge/manifest"
)

// base is forge.md §1.1's manifest that passed @forge/manifest validate().
const base = `app:
  id: ari:cloud:ecosystem::app/11111111-2222-3333-4444-555555555555
  runtime:
    name: nodejs22.x
modules:
  jira:adminPage:
    - key: doctor-admin
      resource: main
      title: Connect Doctor
      resolver:
        endpoint: doctor-ui
  endpoint:
    - key: doctor-ui
      remote: doctor
      auth:
        appUserToken: { enabled: true }
        appSystemToken: { enabled: true }
    - key: doctor-events
      remote: doctor
      route: { path: /forge/lifecycle }
      auth:
        appSystemToken: { enabled: true }
  trigger:
    - key: lifecycle-to-remote
      endpoint: doctor-events
      events: [avi:forge:installed:app, avi:forge:upgraded:app]
  scheduledTrigger:
    - key: token-refresh
      endpoint: doctor-events
      interval: hour
resources:
  - key: main
    path: static/admin
remotes:
  - key: doctor
    baseUrl: https://connect-doctor.example.com
    operations: [compute, storage]
    storage: { inScopeEUD: true }
permissions:
  scopes: [read:app-system-token, read:app-user-token, read:jira-work, read:jira-user, manage:jira-configuration]
`

// cof is forge.md §2.2's combined manifest that passed validate().
const cof = `app:
  id: ari:cloud:ecosystem::app/11111111-2222-3333-4444-555555555555
  connect:
    key: com.example.connect-doctor
    remote: connect
    authentication: jwt
  runtime:
    name: nodejs22.x
remotes:
  - key: connect
    baseUrl: https://connect-doctor.example.com
    operations: [storage, compute]
    storage: { inScopeEUD: true }
connectModules:
  jira:lifecycle:
    - key: lifecycle-events
      installed: /installed
      uninstalled: /uninstalled
  jira:adminPages:
    - key: doctor-admin
      url: /admin
      name: { value: Connect Doctor }
  jira:webhooks:
    - key: issue-updated
      event: jira:issue_updated
      url: /webhooks/issue-updated
modules:
  endpoint:
    - key: forge-lifecycle
      remote: connect
      route: { path: /forge/lifecycle }
      auth:
        appSystemToken: { enabled: true }
  trigger:
    - key: forge-lifecycle-trigger
      endpoint: forge-lifecycle
      events: [avi:forge:installed:app, avi:forge:upgraded:app]
  connectToForgeMigration:
    - key: migration-plan
      migrationGuideUrl: https://connect-doctor.example.com/forge-migration
      willMigrateToForgeBeforeEOS: YES
permissions:
  scopes: [read:connect-jira, write:connect-jira, admin:connect-jira, act-as-user:connect-jira, read:app-system-token, read:jira-work]
`

func TestCheckAcceptsValidatedExamples(t *testing.T) {
	for name, src := range map[string]string{"forge.md §1.1": base, "forge.md §2.2 (+read:jira-work)": cof} {
		if ps := errorsOnly(manifest.Check([]byte(src), manifest.Options{})); len(ps) > 0 {
			t.Errorf("%s: %v", name, ps)
		}
	}
}

// edit replaces old with new in src exactly once.
func edit(t *testing.T, src, old, new string) string {
	t.Helper()
	if strings.Count(src, old) != 1 {
		t.Fatalf("edit: %q occurs %d times", old, strings.Count(src, old))
	}
	return strings.Replace(src, old, new, 1)
}

func lineOf(src, needle string) int {
	i := strings.Index(src, needle)
	if i < 0 {
		return -1
	}
	return strings.Count(src[:i], "\n") + 1
}

func TestCheckRules(t *testing.T) {
	tests := []struct {
		name     string
		src      func(t *testing.T) string
		code     string
		lineAt   string // the problem's line is the line of this text
		fixHas   string
		severity manifest.Severity
	}{
		{"yaml syntax", func(t *testing.T) string { return "app:\n  id: [\n" }, "yaml_syntax", "", "YAML", manifest.Error},
		{"unknown top level apiMigrations", func(t *testing.T) string { return base + "apiMigrations:\n  signed-install: true\n" }, "unknown_top_level", "apiMigrations:", "Forge refuses", manifest.Error},
		{"app id bare uuid", func(t *testing.T) string {
			return edit(t, base, "id: ari:cloud:ecosystem::app/11111111-2222-3333-4444-555555555555", "id: 11111111-2222-3333-4444-555555555555")
		}, "app_id_format", "id: 1111", "ARI", manifest.Error},
		{"app id placeholder", func(t *testing.T) string {
			return edit(t, base, "ari:cloud:ecosystem::app/11111111-2222-3333-4444-555555555555", manifest.PlaceholderAppID)
		}, "app_id_placeholder", "invalid-run-forge-register", "forge register", manifest.Warning},
		{"remote key too long", func(t *testing.T) string {
			return strings.ReplaceAll(base, "doctor\n", "doctor-remote-with-a-long-key\n")
		}, "key_length", "- key: doctor-remote-with", "Shorten", manifest.Error},
		{"endpoint key bad characters", func(t *testing.T) string { return edit(t, base, "key: doctor-ui", "key: doctor ui") }, "key_format", "key: doctor ui", "letters", manifest.Error},
		{"duplicate module key", func(t *testing.T) string { return edit(t, base, "key: token-refresh", "key: lifecycle-to-remote") }, "duplicate_key", "- key: lifecycle-to-remote\n      endpoint: doctor-events\n      interval", "unique", manifest.Error},
		{"endpoint remote unresolved", func(t *testing.T) string {
			return edit(t, base, "remote: doctor\n      auth:\n        appUserToken", "remote: docter\n      auth:\n        appUserToken")
		}, "endpoint_remote_unresolved", "remote: docter", "remotes", manifest.Error},
		{"resolver endpoint unresolved", func(t *testing.T) string { return edit(t, base, "endpoint: doctor-ui", "endpoint: doctor-uj") }, "endpoint_unresolved", "endpoint: doctor-uj", "Declare", manifest.Error},
		{"trigger endpoint with user token", func(t *testing.T) string {
			return edit(t, base, "endpoint: doctor-events\n      events", "endpoint: doctor-ui\n      events")
		}, "trigger_user_token", "endpoint: doctor-ui\n      events", "appSystemToken", manifest.Error},
		{"trigger endpoint without route", func(t *testing.T) string { return edit(t, base, "      route: { path: /forge/lifecycle }\n", "") }, "trigger_route_missing", "endpoint: doctor-events\n      events", "route", manifest.Error},
		{"trigger without events", func(t *testing.T) string {
			return edit(t, base, "      events: [avi:forge:installed:app, avi:forge:upgraded:app]\n", "")
		}, "trigger_events_missing", "- key: lifecycle-to-remote", "events", manifest.Error},
		{"scheduled interval", func(t *testing.T) string { return edit(t, base, "interval: hour", "interval: hourly") }, "scheduled_interval", "- key: token-refresh", "hour", manifest.Error},
		{"remote base url not https", func(t *testing.T) string {
			return edit(t, base, "baseUrl: https://connect-doctor.example.com", "baseUrl: http://connect-doctor.example.com")
		}, "remote_base_url_https", "baseUrl: http://", "https", manifest.Error},
		{"remote base url region map without default", func(t *testing.T) string {
			return edit(t, base, "baseUrl: https://connect-doctor.example.com", "baseUrl:\n      EU: https://eu.example.com")
		}, "remote_region_default", "baseUrl:\n      EU", "default", manifest.Error},
		{"remote unknown region", func(t *testing.T) string {
			return edit(t, base, "baseUrl: https://connect-doctor.example.com", "baseUrl:\n      default: https://x.example.com\n      MARS: https://m.example.com")
		}, "remote_region_unknown", "MARS", "region", manifest.Error},
		{"remote storage without inScopeEUD", func(t *testing.T) string { return edit(t, base, "    storage: { inScopeEUD: true }\n", "") }, "remote_in_scope_eud", "operations: [compute, storage]", "inScopeEUD", manifest.Error},
		{"remote unknown operation", func(t *testing.T) string { return edit(t, base, "[compute, storage]", "[compute, storage, write]") }, "remote_operation_unknown", "[compute, storage, write]", "compute", manifest.Error},
		{"remote without operations", func(t *testing.T) string { return edit(t, base, "    operations: [compute, storage]\n", "") }, "remote_operations_missing", "- key: doctor\n", "operations", manifest.Warning},
		{"unknown scope", func(t *testing.T) string {
			return edit(t, base, "manage:jira-configuration]", "manage:jira-configuration, READ]")
		}, "unknown_scope", "scopes: [", "read:connect-jira", manifest.Error},
		{"system token scope missing", func(t *testing.T) string { return edit(t, base, "read:app-system-token, ", "") }, "token_scope_missing", "permissions:", "read:app-system-token", manifest.Error},
		{"user token scope missing", func(t *testing.T) string { return edit(t, base, "read:app-user-token, ", "") }, "token_scope_missing", "permissions:", "read:app-user-token", manifest.Error},
		{"tokens without product scope", func(t *testing.T) string {
			return edit(t, base, "read:jira-work, read:jira-user, manage:jira-configuration]", "]")
		}, "oauth_without_product_scope", "permissions:", "read:jira-work", manifest.Error},
		{"connect scope on a forge-only manifest", func(t *testing.T) string {
			return edit(t, base, "manage:jira-configuration]", "manage:jira-configuration, admin:connect-jira]")
		}, "connect_scope_on_forge_only", "scopes: [", "manage:jira-configuration", manifest.Error},
		{"only connect scopes behind forge tokens", func(t *testing.T) string {
			return edit(t, cof, ", read:jira-work]", "]")
		}, "connect_scopes_only_on_forge_path", "permissions:", "read:jira-work", manifest.Error},
		{"connect modules without app.connect", func(t *testing.T) string {
			return edit(t, cof, "  connect:\n    key: com.example.connect-doctor\n    remote: connect\n    authentication: jwt\n", "")
		}, "connect_remote_missing", "connectModules:", "app.connect", manifest.Error},
		{"connect remote missing", func(t *testing.T) string {
			return edit(t, cof, "    remote: connect\n    authentication", "    authentication")
		}, "connect_remote_missing", "  connect:", "remote", manifest.Error},
		{"connect remote unresolved", func(t *testing.T) string {
			return edit(t, cof, "remote: connect\n    auth", "remote: konnect\n    auth")
		}, "connect_remote_unresolved", "remote: konnect", "remotes", manifest.Error},
		{"connect remote configurable", func(t *testing.T) string {
			return edit(t, cof, "    storage: { inScopeEUD: true }\n", "    storage: { inScopeEUD: true }\n    configurable: true\n")
		}, "connect_remote_configurable", "remote: connect\n    authentication", "configurable", manifest.Error},
		{"connect authentication oauth2", func(t *testing.T) string { return edit(t, cof, "authentication: jwt", "authentication: oauth2") }, "connect_authentication", "authentication: oauth2", "jwt", manifest.Error},
		{"connect apiMigrations", func(t *testing.T) string {
			return edit(t, cof, "    authentication: jwt\n", "    authentication: jwt\n    apiMigrations: { signed-install: true }\n")
		}, "connect_unknown_property", "apiMigrations", "Forge refuses", manifest.Error},
		{"connect key invalid", func(t *testing.T) string { return edit(t, cof, "key: com.example.connect-doctor", "key: com/example") }, "connect_key_format", "key: com/example", "descriptor key", manifest.Error},
		{"unsupported connect module", func(t *testing.T) string { return edit(t, cof, "jira:webhooks:", "jira:apiMigrations:") }, "connect_module_unsupported", "jira:apiMigrations:", "Forge refuses", manifest.Error},
		{"two lifecycle entries", func(t *testing.T) string {
			return edit(t, cof, "      uninstalled: /uninstalled\n", "      uninstalled: /uninstalled\n    - key: lifecycle-2\n      enabled: /enabled\n")
		}, "lifecycle_count", "jira:lifecycle:", "single lifecycle", manifest.Error},
		{"connect module without key", func(t *testing.T) string { return edit(t, cof, "- key: issue-updated\n      event", "- event") }, "key_missing", "- event: jira:issue_updated", "key", manifest.Error},
		{"connect admin page without url", func(t *testing.T) string { return edit(t, cof, "      url: /admin\n", "") }, "connect_module_url", "- key: doctor-admin", "url", manifest.Error},
		{"connectModules value not a list", func(t *testing.T) string {
			return edit(t, cof, "  jira:adminPages:\n    - key: doctor-admin\n      url: /admin\n      name: { value: Connect Doctor }\n", "  jira:adminPages:\n    key: doctor-admin\n    url: /admin\n")
		}, "module_not_list", "jira:adminPages:", "list", manifest.Error},
		{"core: migration module spelling", func(t *testing.T) string {
			return edit(t, cof, "  connectToForgeMigration:", "  core:connectToForgeMigration:")
		}, "module_name", "core:connectToForgeMigration:", "connectToForgeMigration", manifest.Error},
		{"migration guide not https", func(t *testing.T) string {
			return edit(t, cof, "migrationGuideUrl: https://", "migrationGuideUrl: http://")
		}, "migration_guide_url", "migrationGuideUrl: http://", "https", manifest.Error},
		{"migration answer", func(t *testing.T) string {
			return edit(t, cof, "willMigrateToForgeBeforeEOS: YES", "willMigrateToForgeBeforeEOS: SOON")
		}, "migration_answer", "- key: migration-plan", "YES", manifest.Error},
		{"authentication without connectModules", func(t *testing.T) string {
			i := strings.Index(cof, "connectModules:")
			j := strings.Index(cof, "modules:\n  endpoint")
			return cof[:i] + cof[j:]
		}, "connect_authentication_without_modules", "authentication: jwt", "connectModules", manifest.Error},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.src(t)
			ps := manifest.Check([]byte(src), manifest.Options{})
			var found *manifest.Problem
			for i := range ps {
				if ps[i].Code == tt.code {
					found = &ps[i]
					break
				}
			}
			if found == nil {
				t.Fatalf("no %s problem; got %v", tt.code, ps)
			}
			if tt.lineAt != "" {
				if want := lineOf(src, tt.lineAt); found.Line != want {
					t.Errorf("line = %d, want %d (%q): %v", found.Line, want, tt.lineAt, found)
				}
			} else if found.Line == 0 {
				t.Errorf("no line: %v", found)
			}
			if !strings.Contains(found.Fix, tt.fixHas) && !strings.Contains(found.Message, tt.fixHas) {
				t.Errorf("fix %q / message %q lacks %q", found.Fix, found.Message, tt.fixHas)
			}
			if found.Severity != tt.severity {
				t.Errorf("severity = %s, want %s", found.Severity, tt.severity)
			}
			if found.Path == "" && tt.code != "yaml_syntax" {
				t.Errorf("no path: %v", found)
			}
		})
	}
}

func TestCheckOperationsCovered(t *testing.T) {
	ops := []manifest.Operation{
		{Method: "GET", Path: "/rest/api/3/myself", OAuthClassic: []string{"read:jira-user"}, OAuthGranular: []string{"read:application-role:jira", "read:group:jira", "read:user:jira", "read:avatar:jira"}},
		{Method: "GET", Path: "/rest/agile/1.0/board", OAuthClassic: []string{"read:jira-work"}, OAuthGranular: []string{"read:board-scope:jira-software", "read:project:jira"}},
		{Method: "POST", Path: "/rest/api/3/issue", OAuthClassic: []string{"write:jira-work"}, OAuthGranular: []string{"write:issue:jira"}},
		{Method: "GET", Path: "/rest/atlassian-connect/1/addons/{addonKey}/properties", ConnectScope: "READ"},
	}
	ps := manifest.Check([]byte(base), manifest.Options{Operations: ops})
	var got []string
	for _, p := range ps {
		if p.Code == "operation_not_covered" || p.Code == "operation_not_oauth" {
			got = append(got, p.Code+" "+p.Message+" → "+p.Fix)
			if p.Line != lineOf(base, "permissions:") {
				t.Errorf("line %d: %v", p.Line, p)
			}
		}
	}
	if len(got) != 2 || !strings.Contains(got[0], "POST /rest/api/3/issue") || !strings.Contains(got[0], "Add write:jira-work") ||
		!strings.Contains(got[1], "operation_not_oauth") {
		t.Errorf("problems:\n%s", strings.Join(got, "\n"))
	}
	// The granular set alone, complete, also covers.
	withGranular := edit(t, base, "manage:jira-configuration]", "manage:jira-configuration, write:issue:jira]")
	for _, p := range manifest.Check([]byte(withGranular), manifest.Options{Operations: ops[2:3]}) {
		if p.Code == "operation_not_covered" {
			t.Errorf("granular set not honoured: %v", p)
		}
	}
}

func TestCheckGoldenFilesStayClean(t *testing.T) {
	for _, name := range []string{"forge.yml", "forge-from-descriptor.yml", "connect-on-forge.yml", "connect-on-forge-keyvar.yml"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		ps := manifest.Check(b, manifest.Options{})
		for _, p := range ps {
			if p.Severity == manifest.Error {
				t.Errorf("%s: %v", name, p)
			}
		}
	}
}

func ExampleCheck() {
	src := []byte(`app:
  id: ari:cloud:ecosystem::app/11111111-2222-3333-4444-555555555555
modules:
  endpoint:
    - key: ui
      remote: doctor
      auth:
        appUserToken: { enabled: true }
  trigger:
    - key: on-install
      endpoint: ui
      events: [avi:forge:installed:app]
remotes:
  - key: doctor
    baseUrl: https://doctor.example.com
    operations: [compute]
permissions:
  scopes: [read:app-user-token, read:jira-work]
`)
	for _, p := range manifest.Check(src, manifest.Options{}) {
		fmt.Println(p.Line, p.Code)
	}
	// Output:
	// 11 trigger_user_token
	// 11 trigger_route_missing
}

func ExampleProblem_Format() {
	p := manifest.Check([]byte("app:\n  id: ari:cloud:ecosystem::app/11111111-2222-3333-4444-555555555555\npermissions:\n  scopes: [READ]\n"), manifest.Options{})[0]
	fmt.Println(p.Format("manifest.yml"))
	// Output:
	// manifest.yml:4: unknown_scope: Invalid 'scopes' permission in the manifest.yml file - 'READ'. (fix: Write read:connect-jira (Connect spelling) and its OAuth 2.0 equivalents [read:jira-user read:jira-work].)
}
