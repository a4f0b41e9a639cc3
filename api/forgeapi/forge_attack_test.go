package forgeapi_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/api/forgeapi"
	"github.com/connect-doctor/connect-doctor/sim/forgesim"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// The Forge attack matrix (issue 16 items 1, 2, 3): a regular user of a
// site where the app is installed holds genuine UI invocation tokens (FITs
// with a principal, module jira:adminPage) and can add any header to a
// requestRemote call from the browser. Each case runs against the whole
// app and returns nil when the attack was refused and nothing the attacker
// aimed at changed.

type forgeAttack struct {
	name, attack string
	run          func(t *testing.T, e *forgeEnv) error
}

// forgeEnv is the app with the site installed by Forge (installed event,
// genuine system token stored).
type forgeEnv struct {
	f    *forgeApp
	site *forgesim.Site
}

const attackUser = "557058:regular-user"

// plantedJWT is an unsigned "token" whose exp is in the year 5138.
func plantedJWT() string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(`{"exp":99999999999,"sub":"attacker"}`)) + ".c2ln"
}

// uiFIT is a genuine FIT of the admin page invoked by attackUser.
func (e *forgeEnv) uiFIT() string {
	return e.site.Minter().MustMint(forgesim.WithClaim("app.module", map[string]any{"type": "jira:adminPage", "key": "doctor-admin"}),
		forgesim.WithPrincipal(attackUser),
		forgesim.WithClaim("context", map[string]any{"cloudId": e.site.CloudID(), "siteUrl": e.site.SiteURL(), "moduleKey": "doctor-admin"}))
}

func (e *forgeEnv) post(t *testing.T, path, fit string, body any, extra ...string) *http.Response {
	h := http.Header{"Authorization": {"Bearer " + fit}}
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	return e.f.do(t, "POST", path, h, mustJSON(body))
}

func (e *forgeEnv) storedToken(t *testing.T) (string, time.Time) {
	tok, exp, err := e.f.app.ForgeStore.SystemToken(context.Background(), e.site.InstallationID())
	if err != nil {
		t.Fatal(err)
	}
	return tok, exp
}

func refused(resp *http.Response, status int) error {
	defer resp.Body.Close()
	if resp.StatusCode != status {
		return fmt.Errorf("answered %d, want %d", resp.StatusCode, status)
	}
	return nil
}

func forgeAttacks() []forgeAttack {
	return []forgeAttack{
		{"ui FIT on pre-uninstall", "item 2: a regular user's admin-page FIT posted to /forge/pre-uninstall marks the installation uninstalled",
			func(t *testing.T, e *forgeEnv) error {
				err := refused(e.post(t, "/forge/pre-uninstall", e.uiFIT(), map[string]any{}), 403)
				in, gerr := e.f.app.ForgeStore.Get(context.Background(), e.site.InstallationID())
				if gerr != nil || in.State != tenant.StateInstalled {
					return errors.Join(err, fmt.Errorf("state is now %v (%v)", in.State, gerr))
				}
				return err
			}},
		{"ui FIT on lifecycle wipes scopes", "item 2: an upgraded event with empty scopes under a user's UI FIT",
			func(t *testing.T, e *forgeEnv) error {
				if _, err := e.site.Upgrade(context.Background(), e.f.base, forgesim.DefaultScopes()); err != nil {
					t.Fatal(err)
				}
				ev := forgesim.UpgradedEvent(e.site.InstallationID(), e.site.AppID(), e.site.CloudID(), e.site.SiteURL(), []string{})
				err := refused(e.post(t, "/forge/lifecycle", e.uiFIT(), ev), 403)
				in, _ := e.f.app.ForgeStore.Get(context.Background(), e.site.InstallationID())
				if len(in.Scopes) == 0 {
					return errors.Join(err, errors.New("stored scopes were wiped"))
				}
				return err
			}},
		{"ui FIT on scheduled plants token", "items 1+2: the scheduled route with a UI FIT and a planted x-forge-oauth-system",
			func(t *testing.T, e *forgeEnv) error {
				before, _ := e.storedToken(t)
				err := refused(e.post(t, "/forge/scheduled", e.uiFIT(), map[string]any{}, "x-forge-oauth-system", plantedJWT()), 403)
				if after, _ := e.storedToken(t); after != before {
					return errors.Join(err, errors.New("the planted token was stored"))
				}
				return err
			}},
		{"other endpoint key on pre-uninstall", "item 2: a core:endpoint FIT of an endpoint the manifest does not route to pre-uninstall",
			func(t *testing.T, e *forgeEnv) error {
				fit := e.site.Minter().MustMint(forgesim.WithClaim("app.module", map[string]any{"type": "core:endpoint", "key": "some-function-endpoint"}))
				return refused(e.post(t, "/forge/pre-uninstall", fit, map[string]any{}), 403)
			}},
		{"principal on an event FIT", "item 2: a core:endpoint FIT of the lifecycle endpoint that names a user",
			func(t *testing.T, e *forgeEnv) error {
				fit := e.site.Minter().MustMint(forgesim.WithPrincipal(attackUser))
				return refused(e.post(t, "/forge/pre-uninstall", fit, map[string]any{}), 403)
			}},
		{"requestRemote plants system token", "item 1: a requestRemote call with x-forge-oauth-system claiming exp 5138",
			func(t *testing.T, e *forgeEnv) error {
				before, _ := e.storedToken(t)
				h := http.Header{"Authorization": {"Bearer " + e.uiFIT()}, "X-Forge-Oauth-System": {plantedJWT()}}
				resp := e.f.do(t, "GET", "/forge/api/link", h, nil)
				resp.Body.Close()
				if after, _ := e.storedToken(t); after != before {
					return errors.New("the planted token replaced Forge's")
				}
				return nil
			}},
		{"event token expiry read from token", "item 1: the stored expiry of a token Forge delivered is not the exp its payload claims",
			func(t *testing.T, e *forgeEnv) error {
				fit := e.site.Minter().MustMint()
				resp := e.post(t, "/forge/scheduled", fit, map[string]any{}, "x-forge-oauth-system", plantedJWT())
				resp.Body.Close()
				if _, exp := e.storedToken(t); exp.After(time.Now().Add(4 * time.Hour)) {
					return fmt.Errorf("stored expiry %s comes from the token", exp)
				}
				return nil
			}},
		{"link candidate across cloudIds", "item 3: a Connect tenant of another cloudId whose baseUrl equals this siteUrl becomes the candidate",
			func(t *testing.T, e *forgeEnv) error {
				err := e.f.app.Store.SaveInstall(context.Background(), &tenant.Tenant{ClientKey: "ck-other-cloud", AppKey: "connect-doctor",
					BaseURL: e.site.SiteURL(), CloudID: "11111111-other-cloud", SharedSecret: "other-cloud-shared-secret-0123456789"})
				if err != nil {
					t.Fatal(err)
				}
				// A UI call brings the FIT's context.siteUrl.
				e.f.do(t, "GET", "/forge/api/link", http.Header{"Authorization": {"Bearer " + e.uiFIT()}}, nil).Body.Close()
				in, err := e.f.app.ForgeStore.Get(context.Background(), e.site.InstallationID())
				if err != nil {
					t.Fatal(err)
				}
				if in.SiteURL == "" {
					t.Fatal("control: no site URL recorded")
				}
				if in.LinkCandidate != "" || in.ClientKey != "" {
					return fmt.Errorf("candidate %q, link %q", in.LinkCandidate, in.ClientKey)
				}
				return nil
			}},
		{"link by an admin of the Forge site only", "item 3: a Forge-site administrator who does not administer the Connect tenant's site confirms the link",
			func(t *testing.T, e *forgeEnv) error {
				var asked atomic.Int64
				connectJira := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					asked.Add(1)
					w.Header().Set("Content-Type", "application/json")
					w.Write([]byte(`{"globalPermissions":[]}`)) // not an administrator there
				}))
				t.Cleanup(connectJira.Close)
				err := e.f.app.Store.SaveInstall(context.Background(), &tenant.Tenant{ClientKey: "ck-same-cloud", AppKey: "connect-doctor",
					BaseURL: connectJira.URL, CloudID: e.site.CloudID(), SharedSecret: "same-cloud-shared-secret-0123456789ab"})
				if err != nil {
					t.Fatal(err)
				}
				e.site.Gateway().SetAdmin(attackUser, true)
				h := http.Header{"Authorization": {"Bearer " + e.uiFIT()}}
				if lv := decode[forgeapi.LinkView](t, e.f.do(t, "GET", "/forge/api/link", h, nil)); lv.LinkCandidate != "ck-same-cloud" {
					t.Fatalf("control: candidate %+v", lv)
				}
				h = http.Header{"Authorization": {"Bearer " + e.uiFIT()}}
				err = refused(e.f.do(t, "POST", "/forge/api/link", h, mustJSON(map[string]string{"clientKey": "ck-same-cloud"})), 403)
				if in, _ := e.f.app.ForgeStore.Get(context.Background(), e.site.InstallationID()); in.ClientKey != "" {
					err = errors.Join(err, errors.New("linked"))
				}
				if err == nil && asked.Load() == 0 {
					err = errors.New("refused without asking the Connect site")
				}
				return err
			}},
		{"hostile icLabel picks the key set", "issue 15 part 5: an icLabel read before verification chooses where keys are fetched from",
			func(t *testing.T, e *forgeEnv) error {
				fetches := e.site.KeyHost().Fetches()
				var errs []error
				for _, label := range []string{"../../evil", "EVIL", strings.Repeat("a", 51), "unlisted-ic"} {
					fit := e.site.Minter().MustMint(forgesim.WithClaim("icLabel", label))
					resp := e.post(t, "/forge/scheduled", fit, map[string]any{})
					if resp.StatusCode != 401 {
						errs = append(errs, fmt.Errorf("icLabel %q: answered %d", label, resp.StatusCode))
						resp.Body.Close()
						continue
					}
					if c := errCode(t, resp); c != "fit_ic_label_refused" {
						errs = append(errs, fmt.Errorf("icLabel %q: code %s", label, c))
					}
				}
				if n := e.site.KeyHost().Fetches() - fetches; n != 0 {
					errs = append(errs, fmt.Errorf("%d key set fetches", n))
				}
				return errors.Join(errs...)
			}},
		{"user call of a new installation takes the record", "issue 15 part 5: a requestRemote of another installation id on the same cloudId relinks the site's record",
			func(t *testing.T, e *forgeEnv) error {
				m := *e.site.Minter()
				m.InstallationID = "ari:cloud:ecosystem::installation/0000aaaa-0000-4000-8000-00000000a77a"
				fit := m.MustMint(forgesim.WithClaim("app.module", map[string]any{"type": "jira:adminPage", "key": "doctor-admin"}), forgesim.WithPrincipal(attackUser),
					forgesim.WithClaim("context", map[string]any{"cloudId": e.site.CloudID(), "siteUrl": e.site.SiteURL(), "moduleKey": "doctor-admin"}))
				e.f.do(t, "GET", "/forge/api/link", http.Header{"Authorization": {"Bearer " + fit}}, nil).Body.Close()
				err := refused(e.post(t, "/forge/lifecycle", fit, forgesim.InstalledEvent(m.InstallationID, e.site.AppID(), e.site.CloudID(), "")), 403)
				if in, _ := e.f.app.ForgeStore.Get(context.Background(), e.site.InstallationID()); in.ReplacedBy != "" || in.State != tenant.StateInstalled {
					err = errors.Join(err, fmt.Errorf("the site's installation was replaced: %+v", in))
				}
				return err
			}},
		{"reinstall on another cloudId takes the record", "issue 15 part 5: an installed event of the attacker's own site (another cloudId, the victim's siteUrl) relinks the victim's record",
			func(t *testing.T, e *forgeEnv) error {
				m := *e.site.Minter()
				m.InstallationID, m.CloudID = "ari:cloud:ecosystem::installation/0000bbbb-0000-4000-8000-00000000b00b", "0000bbbb-attacker-cloud"
				m.APIBaseURL = e.site.Gateway().APIBaseURL(m.CloudID)
				fit := m.MustMint(forgesim.WithClaim("context", map[string]any{"cloudId": m.CloudID, "siteUrl": e.site.SiteURL()}))
				resp := e.post(t, "/forge/lifecycle", fit, forgesim.InstalledEvent(m.InstallationID, e.site.AppID(), m.CloudID, ""))
				ans := decode[forgeapi.EventAnswer](t, resp)
				var err error
				if len(ans.RelinkedFrom) != 0 {
					err = fmt.Errorf("took over %v", ans.RelinkedFrom)
				}
				if in, _ := e.f.app.ForgeStore.Get(context.Background(), e.site.InstallationID()); in.ReplacedBy != "" {
					err = errors.Join(err, fmt.Errorf("the victim's installation was replaced: %+v", in))
				}
				return err
			}},
		{"clientKey property naming another site", "issue 15 part 5: the reserved clientKey app property names a Connect tenant of another site (the victim's, same siteUrl, another cloudId): the installed event links nothing",
			func(t *testing.T, e *forgeEnv) error {
				ctx := context.Background()
				err := e.f.app.Store.SaveInstall(ctx, &tenant.Tenant{ClientKey: "ck-victim", AppKey: "connect-doctor",
					BaseURL: e.site.SiteURL(), CloudID: "0000cccc-victim-cloud", SharedSecret: "victim-shared-secret-0123456789abcd"})
				if err != nil {
					t.Fatal(err)
				}
				e.site.Gateway().SetClientKeyProperty(e.site.InstallationID(), forgesim.ClientKeyValue("ck-victim"))
				resp, rerr := e.site.Install(ctx, e.f.base)
				if rerr != nil || resp.StatusCode != 200 {
					t.Fatalf("control: installed event %v %v", resp, rerr)
				}
				if ans := decode[forgeapi.EventAnswer](t, resp); ans.ClientKeyLookup != "other_site" {
					t.Fatalf("control: the property was not read (%+v)", ans)
				}
				if in, _ := e.f.app.ForgeStore.Get(ctx, e.site.InstallationID()); in == nil || in.ClientKey != "" {
					return fmt.Errorf("linked to %q", in.ClientKey)
				}
				return nil
			}},
		{"event FIT replayed to another instance", "a captured lifecycle delivery (upgraded, empty scopes) replayed to a second instance on the same database",
			func(t *testing.T, e *forgeEnv) error {
				other := startForge(t, "", e.site, map[string]string{"DATA_DIR": e.f.env["DATA_DIR"]})
				fit := e.site.Minter().MustMint()
				ev := forgesim.InstalledEvent(e.site.InstallationID(), e.site.AppID(), e.site.CloudID(), "")
				if r := e.post(t, "/forge/lifecycle", fit, ev); r.StatusCode != 200 {
					t.Fatalf("control: delivery %d", r.StatusCode)
				}
				return refused(other.do(t, "POST", "/forge/lifecycle", bearerHeader(fit), mustJSON(ev)), 401)
			}},
		{"scheduled FIT replayed to another instance", "a captured scheduled-trigger delivery replayed to a second instance on the same database",
			func(t *testing.T, e *forgeEnv) error {
				other := startForge(t, "", e.site, map[string]string{"DATA_DIR": e.f.env["DATA_DIR"]})
				fit := e.site.Minter().MustMint()
				if r := e.post(t, "/forge/scheduled", fit, nil); r.StatusCode != 200 {
					t.Fatalf("control: scheduled %d", r.StatusCode)
				}
				err := refused(other.do(t, "POST", "/forge/scheduled", bearerHeader(fit), nil), 401)
				if in, _ := e.f.app.ForgeStore.Get(context.Background(), e.site.InstallationID()); in != nil && in.State == tenant.StateUninstalled {
					err = errors.Join(err, errors.New("the replay uninstalled the installation"))
				}
				return err
			}},
	}
}

// TestForgeAttackMatrix runs every Forge attack on a fresh app (SQLite) and
// prints its counts.
func TestForgeAttackMatrix(t *testing.T) {
	passed, failed := 0, 0
	for _, c := range forgeAttacks() {
		ok := t.Run(c.name, func(t *testing.T) {
			site := newSite(t, forgesim.SiteOptions{})
			e := &forgeEnv{f: startForge(t, "", site, nil), site: site}
			resp, err := site.Install(context.Background(), e.f.base)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("control: install %v %v", resp, err)
			}
			if ans := decode[forgeapi.EventAnswer](t, resp); ans.SystemToken != "stored" {
				t.Fatalf("control: install answer %+v", ans)
			}
			if err := c.run(t, e); err != nil {
				t.Errorf("attack: %s\n%v", c.attack, err)
			}
		})
		if ok {
			passed++
		} else {
			failed++
		}
	}
	summary := fmt.Sprintf("forge attack matrix: %d passed, %d failed", passed, failed)
	fmt.Println(summary)
	t.Log(summary)
}
