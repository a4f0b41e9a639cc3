package connect

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	connectdoctor "github.com/connect-doctor/connect-doctor"
	"github.com/connect-doctor/connect-doctor/scope"
)

func TestRenderDescriptorFromTemplate(t *testing.T) {
	raw, d, err := RenderDescriptor(connectdoctor.DescriptorTemplate(), DescriptorSettings{
		BaseURL: "https://doctor.example.com/", Key: "my-doctor", Scopes: scope.Set{scope.Read, scope.Admin, scope.ActAsUser},
	})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m["baseUrl"] != "https://doctor.example.com" || m["key"] != "my-doctor" {
		t.Fatalf("substitution: %v %v", m["baseUrl"], m["key"])
	}
	if got := strings.Join(d.Scopes, ","); got != "READ,ADMIN,ACT_AS_USER" {
		t.Fatalf("scopes %s", got)
	}
	if !d.APIMigrations["signed-install"] || !d.APIMigrations["context-qsh"] || !d.APIMigrations["gdpr"] {
		t.Fatal("apiMigrations")
	}
	if m, ok := d.AdminPage(); !ok || m.URL != "/admin" {
		t.Fatalf("admin page %+v", m)
	}
	if d.Lifecycle.Installed != "/installed" || d.Lifecycle.Disabled != "/disabled" {
		t.Fatal("lifecycle")
	}
}

func TestDescriptorValidation(t *testing.T) {
	base := func() map[string]any {
		var m map[string]any
		json.Unmarshal(connectdoctor.DescriptorTemplate(), &m)
		m["baseUrl"] = "https://doctor.example.com"
		return m
	}
	tests := []struct {
		name string
		mod  func(m map[string]any)
		want string
	}{
		{"bad key", func(m map[string]any) { m["key"] = "has space" }, "key"},
		{"long key", func(m map[string]any) { m["key"] = strings.Repeat("k", 65) }, "key"},
		{"http base url", func(m map[string]any) { m["baseUrl"] = "http://doctor.example.com" }, "https"},
		{"relative base url", func(m map[string]any) { m["baseUrl"] = "/x" }, "absolute"},
		{"unknown scope", func(m map[string]any) { m["scopes"] = []string{"read", "superuser"} }, "superuser"},
		{"absolute lifecycle url", func(m map[string]any) {
			m["lifecycle"].(map[string]any)["installed"] = "https://evil.example.com/installed"
		}, "lifecycle.installed"},
		{"missing lifecycle", func(m map[string]any) { delete(m["lifecycle"].(map[string]any), "disabled") }, "lifecycle.disabled"},
		{"no signed install", func(m map[string]any) { m["apiMigrations"].(map[string]any)["signed-install"] = false }, "signed-install"},
		{"duplicate module key", func(m map[string]any) {
			m["modules"].(map[string]any)["generalPages"] = []any{map[string]any{"key": "connect-doctor-admin", "url": "/x"}}
		}, "unique"},
		{"absolute module url", func(m map[string]any) {
			m["modules"].(map[string]any)["adminPages"].([]any)[0].(map[string]any)["url"] = "//evil.example.com/x"
		}, "url"},
		{"not jwt", func(m map[string]any) { m["authentication"] = map[string]any{"type": "none"} }, "jwt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := base()
			tt.mod(m)
			b, _ := json.Marshal(m)
			_, err := ParseDescriptor(b)
			if !errors.Is(err, ErrDescriptor) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v should mention %q", err, tt.want)
			}
		})
	}
	b, _ := json.Marshal(base())
	if _, err := ParseDescriptor(b); err != nil {
		t.Fatalf("template invalid: %v", err)
	}
	// Lower-case scopes are accepted.
	m := base()
	m["scopes"] = []string{"read", "act_as_user"}
	b, _ = json.Marshal(m)
	if _, err := ParseDescriptor(b); err != nil {
		t.Fatalf("lower-case scopes: %v", err)
	}
}

func TestLifecyclePayload(t *testing.T) {
	valid := `{"key":"app","clientKey":"ck","sharedSecret":"0123456789abcdef0123","baseUrl":"https://x.atlassian.net/","eventType":"installed"}`
	p, err := ParsePayload([]byte(valid), EventInstalled)
	if err != nil || p.BaseURL != "https://x.atlassian.net" {
		t.Fatalf("%+v %v", p, err)
	}
	tests := []struct {
		name, body, event string
		want              error
	}{
		{"not json", `{"key":`, EventInstalled, ErrPayloadJSON},
		{"array", `[]`, EventInstalled, ErrPayloadJSON},
		{"trailing data", valid + `{}`, EventInstalled, ErrPayloadJSON},
		{"invalid utf-8", "{\"key\":\"\xff\"}", EventInstalled, ErrPayloadJSON},
		{"no clientKey", `{"key":"app","sharedSecret":"0123456789abcdef0123","baseUrl":"https://x.atlassian.net"}`, EventInstalled, ErrPayloadField},
		{"no secret on install", `{"key":"app","clientKey":"ck","baseUrl":"https://x.atlassian.net"}`, EventInstalled, ErrPayloadField},
		{"short secret", `{"key":"app","clientKey":"ck","sharedSecret":"short","baseUrl":"https://x.atlassian.net"}`, EventInstalled, ErrPayloadField},
		{"control characters", `{"key":"app","clientKey":"ck\n","sharedSecret":"0123456789abcdef0123","baseUrl":"https://x.atlassian.net"}`, EventInstalled, ErrPayloadField},
		{"wrong event", valid, EventUninstalled, ErrPayloadEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParsePayload([]byte(tt.body), tt.event); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := DecodePayload(strings.NewReader(strings.Repeat(" ", MaxLifecycleBody+1)), EventInstalled); !errors.Is(err, ErrPayloadTooLarge) {
		t.Fatalf("oversized: %v", err)
	}
	if _, err := ParsePayload([]byte(`{"key":"app","clientKey":"ck","baseUrl":"https://x.atlassian.net"}`), EventUninstalled); err != nil {
		t.Fatalf("uninstall needs no secret: %v", err)
	}
}

func FuzzLifecyclePayload(f *testing.F) {
	f.Add([]byte(`{"key":"app","clientKey":"ck","sharedSecret":"0123456789abcdef0123","baseUrl":"https://x.atlassian.net"}`))
	f.Add([]byte(`{"clientKey":1}`))
	f.Add([]byte("\xff\xfe"))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePayload(b, EventInstalled)
		if err == nil && (p.ClientKey == "" || len(p.SharedSecret) < MinSecretLength || p.BaseURL == "" && p.Key == "") {
			t.Fatalf("accepted an invalid payload: %+v", p)
		}
	})
}
