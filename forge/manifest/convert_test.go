package manifest_test

import (
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/connect-doctor/connect-doctor/forge/manifest"
)

// converted is the part of a converted manifest the tests read.
type converted struct {
	App struct {
		ID      string         `yaml:"id"`
		Connect map[string]any `yaml:"connect"`
	} `yaml:"app"`
	Remotes        []map[string]any            `yaml:"remotes"`
	ConnectModules map[string][]map[string]any `yaml:"connectModules"`
	Modules        map[string][]map[string]any `yaml:"modules"`
	Permissions    *struct {
		Scopes []string `yaml:"scopes"`
	} `yaml:"permissions"`
	Environment map[string]any `yaml:"environment"`
}

func convert(t *testing.T, desc string, in manifest.ConvertInput) (*manifest.Conversion, converted) {
	t.Helper()
	in.Descriptor = []byte(desc)
	c, err := manifest.Convert(in)
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	var m converted
	if err := yaml.Unmarshal(c.YAML, &m); err != nil {
		t.Fatalf("output is not YAML: %v\n%s", err, c.YAML)
	}
	if ps := errorsOnly(manifest.Check(c.YAML, manifest.Options{})); len(ps) > 0 {
		t.Errorf("the converted manifest fails our checker: %v\n%s", ps, c.YAML)
	}
	r := c.Report
	if r.ModulesKept+r.ModulesDropped != r.ModulesIn {
		t.Errorf("modules: %d kept + %d dropped != %d in", r.ModulesKept, r.ModulesDropped, r.ModulesIn)
	}
	return c, m
}

func TestConvertConfluenceApp(t *testing.T) {
	desc := `{
	  // an ACE Confluence app
	  key: 'com.acme.diagrams',
	  name: "Acme Diagrams",
	  baseUrl: "{{localBaseUrl}}",
	  authentication: {type: "jwt"},
	  lifecycle: {installed: "/installed", uninstalled: "/uninstalled",},
	  scopes: ["READ", "WRITE", "SPACE_ADMIN"],
	  modules: {
	    dynamicContentMacros: [{key: "diagram", name: {value: "Diagram"}, url: "/macro?pageId={page.id}"}],
	    webhooks: [{event: "page_created", url: "/hooks/page"}],
	    generalPages: [],
	  },
	}`
	c, m := convert(t, desc, manifest.ConvertInput{Values: manifest.Values{BaseURL: "https://diagrams.acme-apps.net"}})
	if c.Report.Product != "confluence" {
		t.Fatalf("product = %s (%v)", c.Report.Product, c.Report.ProductEvidence)
	}
	for k := range m.ConnectModules {
		if !strings.HasPrefix(k, "confluence:") {
			t.Errorf("module %s is not a confluence: module type", k)
		}
	}
	if len(m.ConnectModules["confluence:dynamicContentMacros"]) != 1 || len(m.ConnectModules["confluence:lifecycle"]) != 1 {
		t.Errorf("connectModules = %v", m.ConnectModules)
	}
	want := []string{"read:connect-confluence", "space-admin:connect-confluence", "write:connect-confluence"}
	if m.Permissions == nil || !slices.Equal(m.Permissions.Scopes, want) {
		t.Errorf("scopes = %v, want %v", m.Permissions, want)
	}
	if strings.Contains(string(c.YAML), "null") || strings.Contains(string(c.YAML), "generalPages") {
		t.Errorf("the empty module was written:\n%s", c.YAML)
	}
	if m.Remotes[0]["baseUrl"] != "https://diagrams.acme-apps.net" || m.App.Connect["key"] != "com.acme.diagrams" {
		t.Errorf("remote/key = %v / %v", m.Remotes, m.App.Connect)
	}
}

// TestConvertIsPure: nothing of Connect Doctor's own backend is added by
// default, and an app without scopes converts.
func TestConvertIsPure(t *testing.T) {
	desc := `{"key":"k.plain","baseUrl":"https://plain.acme-apps.net","modules":{"generalPages":[{"key":"p","url":"/p","name":{"value":"P"}}]}}`
	c, m := convert(t, desc, manifest.ConvertInput{})
	y := string(c.YAML)
	for _, banned := range []string{"/forge/", "endpoint", "trigger", "operations", "inScopeEUD", "connectToForgeMigration", "read:app-system-token", "read:jira-work", "permissions"} {
		if strings.Contains(y, banned) {
			t.Errorf("pure conversion wrote %q:\n%s", banned, y)
		}
	}
	if len(m.Modules) != 0 || c.Report.Scopes.AdminApproval || len(c.Report.Added) != 0 {
		t.Errorf("modules %v, approval %v, added %v", m.Modules, c.Report.Scopes.AdminApproval, c.Report.Added)
	}
	if m.App.ID != manifest.PlaceholderAppID || m.App.Connect["authentication"] != nil {
		t.Errorf("app = %+v", m.App)
	}
}

func TestConvertExtras(t *testing.T) {
	desc := `{"key":"k.x","baseUrl":"https://x.acme-apps.net","scopes":["READ","WRITE"],"lifecycle":{"installed":"/i"},
	  "modules":{"generalPages":[{"key":"p","url":"/p","name":{"value":"P"}}]}}`
	yes := true
	c, m := convert(t, desc, manifest.ConvertInput{AppID: "11111111-2222-3333-4444-555555555555", Extras: manifest.Extras{
		RemoteOperations: []string{"compute", "storage"}, InScopeEUD: &yes, OAuthScopes: true,
		LifecycleRoute: "/forge/events", ScheduledRoute: "/forge/cron", PreUninstallRoute: "/forge/bye",
		MigrationPlan: "undecided", MigrationGuideURL: "https://acme-apps.net/forge", ConnectKeyVariable: true,
	}})
	for _, mod := range []string{"endpoint", "trigger", "scheduledTrigger", "preUninstall", "connectToForgeMigration"} {
		if len(m.Modules[mod]) == 0 {
			t.Errorf("modules.%s missing", mod)
		}
	}
	if got := m.Modules["connectToForgeMigration"][0]["willMigrateToForgeBeforeEOS"]; got != "UNDECIDED" {
		t.Errorf("migration plan = %v", got)
	}
	for _, s := range []string{"read:app-system-token", "read:jira-work", "write:jira-work", "read:connect-jira"} {
		if !slices.Contains(m.Permissions.Scopes, s) {
			t.Errorf("scope %s missing: %v", s, m.Permissions.Scopes)
		}
	}
	if !c.Report.Scopes.AdminApproval || len(c.Report.Added) < 5 || m.App.Connect["key"] != "${CONNECT_KEY}" || m.Environment == nil {
		t.Errorf("report %+v / app %v", c.Report.Scopes, m.App.Connect)
	}
	if !c.Report.Auth[2].Now || !c.Report.Auth[0].Now {
		t.Errorf("forge paths not in use although endpoints were added: %+v", c.Report.Auth)
	}

	bad := map[string]manifest.Extras{
		"operation":           {RemoteOperations: []string{"teleport"}},
		"storage without eud": {RemoteOperations: []string{"storage"}},
		"connect scope":       {Scopes: []string{"read:connect-jira"}},
		"relative route":      {LifecycleRoute: "forge/events"},
		"interval":            {ScheduledRoute: "/c", ScheduledInterval: "minute"},
		"plan without guide":  {MigrationPlan: "YES"},
		"plan answer":         {MigrationPlan: "SOON", MigrationGuideURL: "https://a.b/c"},
		"guide without plan":  {MigrationGuideURL: "https://a.b/c"},
	}
	for name, x := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := manifest.Convert(manifest.ConvertInput{Descriptor: []byte(desc), Extras: x}); !errors.Is(err, manifest.ErrInput) {
				t.Errorf("err = %v, want ErrInput", err)
			}
		})
	}
	// Endpoints without any product scope: Forge refuses the token config.
	noScopes := `{"key":"k.y","baseUrl":"https://y.acme-apps.net","modules":{"generalPages":[{"key":"p","url":"/p"}]}}`
	_, err := manifest.Convert(manifest.ConvertInput{Descriptor: []byte(noScopes), Extras: manifest.Extras{LifecycleRoute: "/e"}})
	if err == nil || !strings.Contains(err.Error(), "--scope") {
		t.Errorf("err = %v, want a remedy naming --scope", err)
	}
}

// TestConvertDropsWithNotes: unknown, retired and other-product modules
// never abort; each is dropped with a reason, and the counts add up.
func TestConvertDropsWithNotes(t *testing.T) {
	desc := `{"key":"k.d","baseUrl":"https://d.acme-apps.net","scopes":["READ"],"modules":{
	  "jiraProfileTabPanels":[{"key":"prof","url":"/prof"}],
	  "jiraProjectPages":[],
	  "agentViewTabs":[{"key":"a1","url":"/a"}],
	  "madeUpModule":[{"key":"m1"},{"key":"m2"}],
	  "staticContentMacros":[{"key":"sm","url":"/sm"}],
	  "jiraKeyboardShortcuts":[{"key":"ks","shortcut":"ctrl+k","target":{"type":"dialogmodule","key":"d"}}],
	  "jiraJqlFunctions":[{"key":"jql","name":"myFn","url":"/jql"}],
	  "automationActions":[{"key":"aa","name":{"value":"A"}}],
	  "jiraIssueGlances":[{"key":"g","url":"/g"}]}}`
	c, m := convert(t, desc, manifest.ConvertInput{})
	r := c.Report
	if r.Product != "jira" || r.ModulesIn != 9 || r.ModulesDropped != 5 || r.ModulesKept != 4 {
		t.Fatalf("product %s, in %d, kept %d, dropped %d", r.Product, r.ModulesIn, r.ModulesKept, r.ModulesDropped)
	}
	byName := map[string]manifest.ModuleOutcome{}
	for _, o := range r.Modules {
		byName[o.Module] = o
	}
	checks := map[string]struct {
		outcome manifest.Outcome
		reason  string
	}{
		"jiraProfileTabPanels":  {manifest.Dropped, "retired"},
		"agentViewTabs":         {manifest.Dropped, "not a connectModules type"},
		"madeUpModule":          {manifest.Dropped, "not a connectModules type of Jira in @forge/manifest"},
		"staticContentMacros":   {manifest.Dropped, "a Confluence module in a Jira descriptor"},
		"jiraProjectPages":      {manifest.Empty, "omitted"},
		"jiraKeyboardShortcuts": {manifest.Renamed, "keyboardShortcuts"},
		"jiraJqlFunctions":      {manifest.Kept, ""},
		"automationActions":     {manifest.Kept, ""},
	}
	for name, want := range checks {
		o := byName[name]
		if o.Outcome != want.outcome || !strings.Contains(o.Reason, want.reason) {
			t.Errorf("%s: %s %q, want %s containing %q", name, o.Outcome, o.Reason, want.outcome, want.reason)
		}
	}
	if got := byName["jiraProfileTabPanels"].Instead; !slices.Contains(got, "jira:personalSettingsPage") {
		t.Errorf("no replacement named for jiraProfileTabPanels: %v", got)
	}
	if len(m.ConnectModules["jira:keyboardShortcuts"]) != 1 || m.ConnectModules["jira:jiraProjectPages"] != nil {
		t.Errorf("connectModules = %v", m.ConnectModules)
	}
	if !slices.ContainsFunc(r.ConsiderNext, func(s manifest.Suggestion) bool {
		return s.Connect == "jiraIssueGlances" && slices.Contains(s.Forge, "jira:issueGlance")
	}) {
		t.Errorf("considerNext = %v", r.ConsiderNext)
	}
}

// TestWebhookKeysAreStable: keys come from event and URL, so reordering
// the descriptor keeps every key; identical hooks still get unique keys.
func TestWebhookKeysAreStable(t *testing.T) {
	hooks := []string{
		`{"event":"jira:issue_created","url":"/h/created"}`,
		`{"event":"jira:issue_updated","url":"/h/updated"}`,
		`{"event":"jira:issue_updated","url":"/h/updated-too"}`,
	}
	keysOf := func(order []int) map[string]string {
		var list []string
		for _, i := range order {
			list = append(list, hooks[i])
		}
		desc := `{"key":"k.w","baseUrl":"https://w.acme-apps.net","modules":{"webhooks":[` + strings.Join(list, ",") + `]}}`
		_, m := convert(t, desc, manifest.ConvertInput{})
		out := map[string]string{}
		for _, h := range m.ConnectModules["jira:webhooks"] {
			out[h["url"].(string)] = h["key"].(string)
		}
		return out
	}
	a, b := keysOf([]int{0, 1, 2}), keysOf([]int{2, 0, 1})
	if len(a) != 3 {
		t.Fatalf("keys = %v", a)
	}
	for url, k := range a {
		if b[url] != k {
			t.Errorf("%s: key %s became %s after reordering", url, k, b[url])
		}
		if !regexp.MustCompile(`^webhook-jira-issue_(created|updated)-[0-9a-f]{8}$`).MatchString(k) {
			t.Errorf("key %q", k)
		}
	}
	if a["/h/updated"] == a["/h/updated-too"] {
		t.Error("two hooks on one event share a key")
	}
}

// TestConvertNoModules: a descriptor with no module left still converts
// (an empty connectModules, which @forge/manifest accepts), with a note.
func TestConvertNoModules(t *testing.T) {
	c, m := convert(t, `{"key":"k.e","baseUrl":"https://e.acme-apps.net","scopes":["READ"],"modules":{"nothingKnown":[{"key":"p"}]}}`, manifest.ConvertInput{})
	if !strings.Contains(string(c.YAML), "connectModules: {}") || len(m.ConnectModules) != 0 || c.Report.ModulesDropped != 1 {
		t.Errorf("%s", c.YAML)
	}
	if !strings.Contains(strings.Join(c.Report.Notes, " "), "connectModules is written empty") {
		t.Errorf("notes = %v", c.Report.Notes)
	}
}

func TestConvertKeysMadeValidAndUnique(t *testing.T) {
	desc := `{"key":"k.u","baseUrl":"https://u.acme-apps.net","modules":{
	  "generalPages":[{"key":"page.one","url":"/1"},{"key":"dup","url":"/2"}],
	  "adminPages":[{"key":"dup","url":"/3"},{"url":"/4","name":{"value":"No key"}}]}}`
	c, m := convert(t, desc, manifest.ConvertInput{})
	keys := map[string]bool{}
	for _, l := range m.ConnectModules {
		for _, e := range l {
			k := e["key"].(string)
			if keys[k] {
				t.Errorf("key %s twice", k)
			}
			keys[k] = true
		}
	}
	if !keys["page-one"] || len(keys) != 4 {
		t.Errorf("keys = %v", keys)
	}
	notes := ""
	for _, o := range c.Report.Modules {
		notes += strings.Join(o.Notes, "\n")
	}
	if !strings.Contains(notes, `"page.one" became "page-one"`) || !strings.Contains(notes, "derived from its content") {
		t.Errorf("notes = %s", notes)
	}
}

func TestConvertProductDetection(t *testing.T) {
	tests := []struct {
		name, desc, product, want string
		err                       error
	}{
		{"jira scope", `{"scopes":["PROJECT_ADMIN"],"modules":{"generalPages":[{"key":"p","url":"/p"}]}}`, "", "jira", nil},
		{"confluence location", `{"modules":{"webItems":[{"key":"w","url":"/w","location":"system.content.action"}]}}`, "", "confluence", nil},
		{"confluence url context", `{"modules":{"generalPages":[{"key":"p","url":"/p?space={space.key}"}]}}`, "", "confluence", nil},
		{"jira url context", `{"modules":{"webPanels":[{"key":"p","url":"/p?issue={issue.key}","location":"x"}]}}`, "", "jira", nil},
		{"nothing specific", `{"modules":{"generalPages":[{"key":"p","url":"/p"}]}}`, "", "jira", nil},
		{"forced", `{"modules":{"generalPages":[{"key":"p","url":"/p"}]}}`, "confluence", "confluence", nil},
		{"conflict", `{"scopes":["SPACE_ADMIN","PROJECT_ADMIN"],"modules":{"generalPages":[{"key":"p","url":"/p"}]}}`, "", "", manifest.ErrProduct},
		{"bad flag", `{"modules":{"generalPages":[{"key":"p","url":"/p"}]}}`, "bitbucket", "", manifest.ErrProduct},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			desc := strings.Replace(tt.desc, "{", `{"key":"k.p","baseUrl":"https://p.acme-apps.net",`, 1)
			c, err := manifest.Convert(manifest.ConvertInput{Descriptor: []byte(desc), Product: tt.product})
			if tt.err != nil {
				if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), "--product") {
					t.Fatalf("err = %v, want %v naming --product", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Report.Product != tt.want {
				t.Errorf("product = %s (%v), want %s", c.Report.Product, c.Report.ProductEvidence, tt.want)
			}
		})
	}
}

func TestConvertPlaceholders(t *testing.T) {
	spring := `{
	  "key": "${addon.key}",
	  "baseUrl": "${addon.base-url}",
	  "name": "${app.name:Acme Spring App}",
	  "lifecycle": {"installed": "/installed"},
	  "modules": {"generalPages": [{"key": "p", "url": "/p?env=${ENV}"}]}
	}`
	t.Run("filled", func(t *testing.T) {
		c, m := convert(t, spring, manifest.ConvertInput{Values: manifest.Values{BaseURL: "https://spring.acme-apps.net", Key: "com.acme.spring", Set: map[string]string{"ENV": "prod"}}})
		if m.App.Connect["key"] != "com.acme.spring" || c.Report.Name != "Acme Spring App" || m.ConnectModules["jira:generalPages"][0]["url"] != "/p?env=prod" {
			t.Errorf("app %v, name %q, modules %v", m.App.Connect, c.Report.Name, m.ConnectModules)
		}
		if len(c.Report.Placeholders) != 4 {
			t.Errorf("placeholders = %+v", c.Report.Placeholders)
		}
	})
	t.Run("unresolved", func(t *testing.T) {
		_, err := manifest.Convert(manifest.ConvertInput{Descriptor: []byte(spring)})
		var ue *manifest.UnresolvedError
		if !errors.As(err, &ue) || !errors.Is(err, manifest.ErrUnresolved) || len(ue.Placeholders) != 3 {
			t.Fatalf("err = %v", err)
		}
		for _, want := range []string{"${addon.key} (line 2; --key KEY)", "${addon.base-url} (line 3; --base-url URL)", "${ENV} (line 6; --set ENV=VALUE)"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q does not list %q", err, want)
			}
		}
	})
	t.Run("placeholder host", func(t *testing.T) {
		desc := `{"key":"k.h","baseUrl":"https://<replace>.ngrok.io/","modules":{"generalPages":[{"key":"p","url":"/p"}]}}`
		_, err := manifest.Convert(manifest.ConvertInput{Descriptor: []byte(desc)})
		if !errors.Is(err, manifest.ErrBaseURL) || !strings.Contains(err.Error(), "placeholder host") {
			t.Fatalf("err = %v", err)
		}
		c, m := convert(t, desc, manifest.ConvertInput{Values: manifest.Values{BaseURL: "https://h.acme-apps.net"}})
		if m.Remotes[0]["baseUrl"] != "https://h.acme-apps.net" || !strings.Contains(strings.Join(c.Report.Notes, " "), "replaced by --base-url") {
			t.Errorf("remote %v, notes %v", m.Remotes, c.Report.Notes)
		}
	})
}

func TestFillPlaceholders(t *testing.T) {
	tests := []struct {
		name, in, want string
		vals           manifest.Values
		unresolved     int
	}{
		{"ace", `{"baseUrl":"{{localBaseUrl}}","key":"{{ appKey }}-{{environment}}"}`, `{"baseUrl":"https://a.b","key":"k-prod"}`,
			manifest.Values{BaseURL: "https://a.b", Key: "k", Set: map[string]string{"environment": "prod"}}, 0},
		{"spring default", `"${x:fallback}" "${y:}"`, `"fallback" ""`, manifest.Values{}, 0},
		{"set wins over default", `"${x:fallback}"`, `"given"`, manifest.Values{Set: map[string]string{"x": "given"}}, 0},
		{"escaped value", `"{{appKey}}"`, `"a\"b\\c"`, manifest.Values{Key: `a"b\c`}, 0},
		{"unresolved stays", `"{{nope}}" "${also.nope}"`, `"{{nope}}" "${also.nope}"`, manifest.Values{}, 2},
		{"spring-looking connect context param kept", `"/tag?p=${project.key}&i=${issue.id}"`, `"/tag?p=${project.key}&i=${issue.id}"`, manifest.Values{}, 0},
		{"connect context params untouched", `"/p?i={issue.key}&s={space.key}"`, `"/p?i={issue.key}&s={space.key}"`, manifest.Values{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, un := manifest.FillPlaceholders([]byte(tt.in), tt.vals)
			if string(got) != tt.want || len(un) != tt.unresolved {
				t.Errorf("got %s (%d unresolved), want %s (%d)", got, len(un), tt.want, tt.unresolved)
			}
		})
	}
}

func TestCheckRemoteURL(t *testing.T) {
	tests := []struct {
		url     string
		blocker bool
		ok      bool
		reason  string
	}{
		{"https://<replace>.ngrok.io/", true, false, "placeholder"},
		{"https://your-domain.example.net", true, false, "placeholder"},
		{"https://{{host}}", true, false, "placeholder"},
		{"http://localhost:3000", true, false, "cannot reach"},
		{"https://127.0.0.1:8443", true, false, "non-public"},
		{"https://10.1.2.3", true, false, "non-public"},
		{"http://app.acme-apps.net", true, false, "not https"},
		{"https://a1b2c3.ngrok-free.app", false, false, "development tunnel"},
		{"https://app.example.com", false, false, "reserved"},
		{"https://app.acme-apps.net", false, true, ""},
		{"https://todo-app.herokuapp.com", false, true, ""},
		{"https://yourcompany-tools.acme-apps.net", false, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			p := manifest.CheckRemoteURL(tt.url)
			if tt.ok {
				if p != nil {
					t.Errorf("flagged: %+v", p)
				}
				return
			}
			if p == nil || p.Blocker != tt.blocker || !strings.Contains(p.Reason, tt.reason) {
				t.Errorf("got %+v, want blocker=%v reason ~ %q", p, tt.blocker, tt.reason)
			}
		})
	}
}

func TestJSON5ToJSON(t *testing.T) {
	tests := []struct{ name, in, want, err string }{
		{"strict json unchanged", `{"a": [1, 2.5, -3e2, true, null], "b": "x\"y"}`, `{"a": [1, 2.5, -3e2, true, null], "b": "x\"y"}`, ""},
		{"comments", "{\n// line\n\"a\": 1, /* block\nspanning */ \"b\": 2}", "{\n\n\"a\": 1, \n \"b\": 2}", ""},
		{"trailing commas", `{"a": [1, 2,], "b": {"c": 1,},}`, `{"a": [1, 2 ], "b": {"c": 1 } }`, ""},
		{"unquoted keys", `{key: 1, $x: 2, _y_: 3, baseUrl: 'u'}`, `{"key": 1, "$x": 2, "_y_": 3, "baseUrl": "u"}`, ""},
		{"single quotes", `{'a': 'it\'s "q"'}`, `{"a": "it's \"q\""}`, ""},
		{"numbers", `{a: 0x1F, b: +1, c: .5, d: 5.}`, `{"a": 31, "b": 1, "c": 0.5, "d": 5.0}`, ""},
		{"url with slashes in string", `{"u": "https://a.b//c"}`, `{"u": "https://a.b//c"}`, ""},
		{"unterminated comment", "{\n/* x", "", "line 2: unterminated"},
		{"bare word", `{a: yes}`, "", "unexpected word"},
		{"double comma", `{"a":1,,}`, "", "two commas"},
		{"Infinity", `{a: Infinity}`, "", "cannot be represented"},
		{"newline in string", "{\"a\": \"x\ny\"}", "", "line break inside a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := manifest.JSON5ToJSON([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, manifest.ErrJSON5) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("output is not JSON: %s", got)
			}
		})
	}
}

func TestConvertBadInput(t *testing.T) {
	tests := map[string]struct {
		desc string
		want string
	}{
		"syntax":        {`{"key": "k", "baseUrl": }`, "descriptor line 1"},
		"not an object": {`[1]`, "not a JSON object"},
		"no key":        {`{"baseUrl":"https://a.acme-apps.net","modules":{"generalPages":[{"key":"p"}]}}`, "no key"},
		"bad key":       {`{"key":"a b","baseUrl":"https://a.acme-apps.net","modules":{"generalPages":[{"key":"p"}]}}`, "app.connect.key"},
		"no baseUrl":    {`{"key":"k","modules":{"generalPages":[{"key":"p"}]}}`, "--base-url"},
		"trailing junk": {`{"key":"k"} {}`, "after the descriptor"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := manifest.Convert(manifest.ConvertInput{Descriptor: []byte(tt.desc)})
			if !errors.Is(err, manifest.ErrInput) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrInput containing %q", err, tt.want)
			}
		})
	}
}

// TestModuleNotesAgreeWithSchema keeps the hand-kept notes consistent with
// the table generated from @forge/manifest: a rename target is accepted, a
// refused module is not, and every suggested Forge module exists.
func TestModuleNotesAgreeWithSchema(t *testing.T) {
	tb, err := manifest.LoadTables()
	if err != nil {
		t.Fatal(err)
	}
	s := &tb.Schema
	if len(s.ConnectModules["jira"]) < 50 || len(s.ConnectModules["confluence"]) < 20 || len(s.ForgeModules) < 100 {
		t.Fatalf("schema table looks truncated: %d/%d/%d", len(s.ConnectModules["jira"]), len(s.ConnectModules["confluence"]), len(s.ForgeModules))
	}
	for p, m := range tb.Notes.Renamed {
		for from, r := range m {
			if !s.Supports(p, r.To) || s.Supports(p, from) {
				t.Errorf("renamed %s:%s → %s: the target must be accepted and the source not", p, from, r.To)
			}
		}
	}
	for p, m := range tb.Notes.Refused {
		for name, r := range m {
			if s.Supports(p, name) {
				t.Errorf("refused %s:%s is accepted by %s: remove the note", p, name, s.Version)
			}
			for _, f := range r.Instead {
				if !slices.Contains(s.ForgeModules, f) {
					t.Errorf("refused %s:%s: %s is not a Forge module", p, name, f)
				}
			}
		}
	}
	for p, m := range tb.Notes.ConsiderNext {
		for c, fs := range m {
			if !s.Supports(p, c) {
				t.Errorf("considerNext %s:%s is not a Connect module type", p, c)
			}
			for _, f := range fs {
				if !slices.Contains(s.ForgeModules, f) {
					t.Errorf("considerNext %s:%s: %s is not a Forge module in %s", p, c, f, s.Version)
				}
			}
		}
	}
}

// TestSchemaTableMatchesPinnedValidator: the table was generated from the
// @forge/manifest version CI installs (tools/forge-manifest-check). Bumping
// the pin without regenerating fails here; CI's module-table.js --check
// compares the contents.
func TestSchemaTableMatchesPinnedValidator(t *testing.T) {
	b, err := os.ReadFile("../../tools/forge-manifest-check/package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		t.Fatal(err)
	}
	pinned := lock.Packages["node_modules/@forge/manifest"].Version
	tb, _ := manifest.LoadTables()
	if pinned == "" || tb.Schema.Version != pinned {
		t.Errorf("data/forge-schema.json is from @forge/manifest %s, the pin is %q: run node tools/forge-manifest-check/module-table.js > forge/manifest/data/forge-schema.json", tb.Schema.Version, pinned)
	}
}

// TestPatternsData: the pattern file parses and has every list the
// converter reads (an empty list would silently weaken detection).
func TestPatternsData(t *testing.T) {
	b, err := os.ReadFile("data/descriptor-patterns.json")
	if err != nil {
		t.Fatal(err)
	}
	var p manifest.Patterns
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	for _, prod := range manifest.Products {
		for _, kind := range []string{"event", "location", "context"} {
			if len(p.ProductEvidence[prod][kind]) == 0 {
				t.Errorf("productEvidence.%s.%s is empty", prod, kind)
			}
		}
	}
	if len(p.AmbiguousEvents) == 0 || len(p.ConnectContextObjects) == 0 || len(p.DevTunnelSuffixes) == 0 {
		t.Errorf("patterns = %+v", p)
	}
}

// TestConvertControlCharacters: values YAML cannot hold raw are escaped, so
// the manifest stays YAML (found by FuzzConvert).
func TestConvertControlCharacters(t *testing.T) {
	desc := "{\"key\":\"k.c\",\"name\":\"A\\u0085B\\rC\",\"baseUrl\":\"https://c.acme-apps.net\",\"modules\":{\"generalPages\":[{\"key\":\"p\",\"url\":\"https://c.acme-apps.net/\\u007f\",\"x\":\"\\u0080\\ufeff\"}]}}"
	_, m := convert(t, desc, manifest.ConvertInput{})
	p := m.ConnectModules["jira:generalPages"][0]
	if p["url"] != "https://c.acme-apps.net/\x7f" || p["x"] != "\u0080\ufeff" {
		t.Errorf("values changed: %q %q", p["url"], p["x"])
	}
}
