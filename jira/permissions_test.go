package jira

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/oauth"
)

func permissionsJira(t *testing.T) (*fakeJira, *Client, *sleepRecorder) {
	f := newFakeJira(t, "")
	f.acceptBearer("tok-1", true)
	f.respond = func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "GET" && r.URL.Path == "/rest/api/3/mypermissions":
			if got := r.URL.Query().Get("permissions"); got != "ADMINISTER,BROWSE_PROJECTS" {
				t.Errorf("permissions=%q", got)
			}
			io.WriteString(w, `{"permissions":{
				"ADMINISTER":{"id":"0","key":"ADMINISTER","type":"GLOBAL","havePermission":false},
				"BROWSE_PROJECTS":{"id":"10","key":"BROWSE_PROJECTS","type":"PROJECT","havePermission":true}}}`)
		case r.Method == "POST" && r.URL.Path == "/rest/api/3/permissions/check":
			var body struct {
				AccountID         string   `json:"accountId"`
				GlobalPermissions []string `json:"globalPermissions"`
			}
			raw, _ := io.ReadAll(r.Body)
			if err := json.Unmarshal(raw, &body); err != nil || body.AccountID != "acc-admin" || strings.Join(body.GlobalPermissions, ",") != "ADMINISTER,SYSTEM_ADMIN" {
				t.Errorf("check body %s", raw)
			}
			io.WriteString(w, `{"globalPermissions":["ADMINISTER"],"projectPermissions":[]}`)
		default:
			w.WriteHeader(404)
		}
	}
	ex := &numberedExchanger{}
	c, rec := newTestClient(f, oauth.NewCache(ex, oauth.CacheOptions{Now: func() time.Time { return fixedNow }}), RetryPolicy{})
	return f, c, rec
}

func TestMyPermissions(t *testing.T) {
	f, c, rec := permissionsJira(t)
	p, err := c.MyPermissions(t.Context(), f.tenant, "acc-user", "BROWSE_PROJECTS", "ADMINISTER", "BROWSE_PROJECTS")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := p.Global["ADMINISTER"]; !ok || v || !p.Project["BROWSE_PROJECTS"] || !p.Has("BROWSE_PROJECTS") || p.Has("ADMINISTER") {
		t.Errorf("permissions %+v", p)
	}
	if s := f.seen(); len(s) != 1 || s[0].Auth != "bearer" {
		t.Fatalf("requests %+v", s)
	}
	// Cached: same keys in another order, and mutating the result does not
	// reach the cache.
	p.Global["ADMINISTER"] = true
	p2, err := c.MyPermissions(t.Context(), f.tenant, "acc-user", "ADMINISTER", "BROWSE_PROJECTS")
	if err != nil || p2.Global["ADMINISTER"] {
		t.Errorf("cached answer %+v, %v", p2, err)
	}
	if len(f.seen()) != 1 {
		t.Errorf("%d requests, want 1 (cached)", len(f.seen()))
	}
	// After the TTL Jira is asked again.
	rec.Sleep(t.Context(), DefaultPermissionTTL)
	if _, err := c.MyPermissions(t.Context(), f.tenant, "acc-user", "ADMINISTER", "BROWSE_PROJECTS"); err != nil {
		t.Fatal(err)
	}
	if len(f.seen()) != 2 {
		t.Errorf("%d requests, want 2 after the TTL", len(f.seen()))
	}
	c.ForgetPermissions(f.tenant.ClientKey)
	c.MyPermissions(t.Context(), f.tenant, "acc-user", "ADMINISTER", "BROWSE_PROJECTS")
	if len(f.seen()) != 3 {
		t.Errorf("%d requests, want 3 after ForgetPermissions", len(f.seen()))
	}
}

func TestCheckPermissions(t *testing.T) {
	f, c, _ := permissionsJira(t)
	got, err := c.CheckPermissions(t.Context(), f.tenant, "acc-admin", "SYSTEM_ADMIN", "ADMINISTER")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got["ADMINISTER"] || got["SYSTEM_ADMIN"] {
		t.Errorf("got %v", got)
	}
	if s := f.seen(); len(s) != 1 || s[0].Auth != "jwt" || s[0].Method != "POST" {
		t.Errorf("requests %+v", s)
	}
	c.CheckPermissions(t.Context(), f.tenant, "acc-admin", "ADMINISTER", "SYSTEM_ADMIN")
	if len(f.seen()) != 1 {
		t.Errorf("not cached")
	}
}

func TestPermissionProbeErrors(t *testing.T) {
	f, c, _ := permissionsJira(t)
	if _, err := c.MyPermissions(t.Context(), f.tenant, "acc"); !errors.Is(err, ErrConfig) {
		t.Errorf("no keys: %v", err)
	}
	if _, err := c.MyPermissions(t.Context(), f.tenant, "acc", "ADMINISTER&x=1"); !errors.Is(err, ErrConfig) {
		t.Errorf("bad key: %v", err)
	}
	if _, err := c.CheckPermissions(t.Context(), f.tenant, "", "ADMINISTER"); !errors.Is(err, ErrConfig) {
		t.Errorf("no account: %v", err)
	}
	f.respond = status(403)
	if _, err := c.CheckPermissions(t.Context(), f.tenant, "acc", "ADMINISTER"); err == nil {
		t.Error("403 not reported")
	} else if ae, ok := errors.AsType[*APIError](err); !ok || ae.StatusCode != 403 {
		t.Errorf("err %v", err)
	}
	if len(f.seen()) != 1 {
		t.Errorf("%d requests", len(f.seen()))
	}
}
