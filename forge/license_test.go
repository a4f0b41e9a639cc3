package forge_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/connect-doctor/connect-doctor/forge"
	"github.com/connect-doctor/connect-doctor/sim/forgesim"
)

// The app.license of the Forge Remote essentials FIT example (a
// production paid app), with the flag under its current name "active"
// or the older "isActive" the docs' table still lists
// (https://developer.atlassian.com/platform/forge/remote/essentials/).
func docLicense(flag string, v any) map[string]any {
	l := map[string]any{"billingPeriod": "MONTHLY", "capabilitySet": "capabilityAdvanced",
		"ccpEntitlementId": "5e176cc2-6fa0-3c7b-8fc4-302443a16e86", "ccpEntitlementSlug": "X-3SH-1A6-33A-AS0", "isEvaluation": false,
		"subscriptionEndDate": "2026-12-08T00:00:00.000Z", "supportEntitlementNumber": nil, "trialEndDate": "1989949707000",
		"type": "commercial", "modes": []string{"USER_ACCESS"}}
	if flag != "" {
		l[flag] = v
	}
	return l
}

func TestLicenseStateAndPolicy(t *testing.T) {
	f := newFixture(t)
	f.cfg.AllowedEnvironments = []string{"PRODUCTION", "DEVELOPMENT"}
	v := f.verifier(t)
	withLicense := func(l map[string]any) forgesim.Option { return forgesim.WithClaim("app.license", l) }
	dev := forgesim.WithClaim("app.environment.type", "DEVELOPMENT")
	both := docLicense("active", false)
	both["isActive"] = true // "active" wins over the deprecated name
	eval := docLicense("active", true)
	eval["isEvaluation"] = true
	tests := []struct {
		name   string
		opts   []forgesim.Option
		policy forge.LicensePolicy
		state  forge.LicenseState
		want   error
	}{
		{"active", []forgesim.Option{withLicense(docLicense("active", true))}, forge.LicensePolicy{}, forge.LicenseActive, nil},
		{"inactive", []forgesim.Option{withLicense(docLicense("active", false))}, forge.LicensePolicy{}, forge.LicenseInactive, forge.ErrLicenseInactive},
		{"deprecated isActive true", []forgesim.Option{withLicense(docLicense("isActive", true))}, forge.LicensePolicy{}, forge.LicenseActive, nil},
		{"deprecated isActive false", []forgesim.Option{withLicense(docLicense("isActive", false))}, forge.LicensePolicy{}, forge.LicenseInactive, forge.ErrLicenseInactive},
		{"active wins over isActive", []forgesim.Option{withLicense(both)}, forge.LicensePolicy{}, forge.LicenseInactive, forge.ErrLicenseInactive},
		{"license without a flag", []forgesim.Option{withLicense(docLicense("", nil))}, forge.LicensePolicy{}, forge.LicenseUnknown, forge.ErrLicenseInactive},
		{"absent in production", nil, forge.LicensePolicy{}, forge.LicenseAbsent, forge.ErrLicenseAbsent},
		{"absent in production, allowed", nil, forge.LicensePolicy{AllowAbsentInProduction: true}, forge.LicenseAbsent, nil},
		{"absent in development", []forgesim.Option{dev}, forge.LicensePolicy{}, forge.LicenseAbsent, nil},
		{"absent in development, required everywhere", []forgesim.Option{dev}, forge.LicensePolicy{RequireInAllEnvironments: true}, forge.LicenseAbsent, forge.ErrLicenseAbsent},
		{"evaluation", []forgesim.Option{withLicense(eval)}, forge.LicensePolicy{}, forge.LicenseActive, nil},
		{"evaluation denied", []forgesim.Option{withLicense(eval)}, forge.LicensePolicy{DenyEvaluation: true}, forge.LicenseActive, forge.ErrLicenseEvaluation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), f.minter.MustMint(tc.opts...))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.LicenseState(); got != tc.state {
				t.Errorf("state %v, want %v", got, tc.state)
			}
			err = tc.policy.CheckLicense(c)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("CheckLicense = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestRequireLicenseMiddleware(t *testing.T) {
	f := newFixture(t)
	v := f.verifier(t)
	var ran int
	h := v.Middleware(forge.RequireLicense(forge.LicensePolicy{}, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { ran++ }), nil), nil)
	for _, tc := range []struct {
		name   string
		lic    map[string]any
		status int
		body   string
	}{
		{"active", docLicense("active", true), 200, ""},
		{"inactive", docLicense("active", false), 402, "forge_license_inactive"},
		{"absent", nil, 402, "forge_license_absent"},
	} {
		opts := []forgesim.Option{}
		if tc.lic != nil {
			opts = append(opts, forgesim.WithClaim("app.license", tc.lic))
		}
		req := httptest.NewRequest("GET", "/x", nil)
		req.Header.Set("Authorization", "Bearer "+f.minter.MustMint(opts...))
		rec := httptest.NewRecorder()
		before := ran
		h.ServeHTTP(rec, req)
		if rec.Code != tc.status || (tc.body != "" && rec.Body.String() != tc.body+"\n") || (tc.status == 200) != (ran > before) {
			t.Errorf("%s: %d %q ran=%v", tc.name, rec.Code, rec.Body.String(), ran > before)
		}
	}
}
