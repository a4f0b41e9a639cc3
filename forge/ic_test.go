package forge_test

import (
	"context"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/forge"
	"github.com/connect-doctor/connect-doctor/sim/forgesim"
)

// icFixture is a verifier trusting the production key set (key 0, "k0")
// and one Isolated Cloud, "acme-ic_1", whose key set (key 1, "ic1") is at
// the template's URL. The IC host answers any query, so the template puts
// the label in the query string.
type icFixture struct {
	*fixture
	ic      *forgesim.KeyHost
	icMint  *forgesim.Minter
	v       *forge.Verifier
	listed  string
	another string // a label of the right shape that is not listed
}

func newICFixture(t *testing.T) *icFixture {
	t.Helper()
	f := newFixture(t)
	keys := testKeys()
	ic := forgesim.NewKeyHost(map[string]*rsa.PrivateKey{"ic1": keys[1]})
	t.Cleanup(ic.Close)
	f.cfg.ICKeySetURL = ic.URL() + "?ic=" + forge.ICLabelPlaceholder
	f.cfg.ICLabels = []string{"acme-ic_1"}
	return &icFixture{fixture: f, ic: ic, icMint: &forgesim.Minter{Key: keys[1], KID: "ic1", Now: f.clock.Now},
		v: f.verifier(t), listed: "acme-ic_1", another: "other-ic"}
}

// TestICLabelSelectsOnlyListedKeySets: icLabel is read before the
// signature is checked, so it may only pick one of the configured key
// sets, by a label of the pinned shape ^[a-z0-9_-]{1,50}$ that is listed
// in FORGE_IC_LABELS. Hostile labels never reach a URL (the IC host sees
// no fetch) and never fall back to the production set.
func TestICLabelSelectsOnlyListedKeySets(t *testing.T) {
	f := newICFixture(t)
	ctx := context.Background()

	// Control: a genuine IC token verifies against the IC set.
	c, err := f.v.Verify(ctx, f.icMint.MustMint(forgesim.WithClaim("icLabel", f.listed)))
	if err != nil || c.ICLabel != f.listed {
		t.Fatalf("genuine IC token: %v %+v", err, c)
	}
	fetches := f.ic.Fetches()

	hostile := []struct{ name, label string }{
		{"path traversal", "../../evil"},
		{"url injection", "x/.well-known/jwks.json#"},
		{"query injection", "acme?host=evil.example"},
		{"encoded traversal", "%2e%2e%2fevil"},
		{"upper case", "ACME-IC_1"},
		{"51 characters", strings.Repeat("a", 51)},
		{"space", "acme ic"},
		{"unicode look-alike", "acme-ic＿1"},
		{"nul byte", "acme\x00"},
		{"not listed", f.another},
		{"listed label with a suffix", f.listed + "x"},
	}
	for _, tc := range hostile {
		t.Run(tc.name, func(t *testing.T) {
			// Signed by the IC key and by the production key: refused
			// either way, before any key set is consulted.
			for _, m := range []*forgesim.Minter{f.icMint, f.minter} {
				_, err := f.v.Verify(ctx, m.MustMint(forgesim.WithClaim("icLabel", tc.label)))
				if !errors.Is(err, forge.ErrFITICLabel) || forge.Code(err) != "fit_ic_label_refused" {
					t.Errorf("kid %s: err = %v", m.KID, err)
				}
			}
		})
	}
	if got := f.ic.Fetches(); got != fetches {
		t.Errorf("hostile labels caused %d key set fetches", got-fetches)
	}

	// 50 characters is the longest label that may be listed.
	if !forge.ValidICLabel(strings.Repeat("a", 50)) || forge.ValidICLabel(strings.Repeat("a", 51)) || forge.ValidICLabel("") {
		t.Error("ValidICLabel boundaries")
	}
	// A listed label with a production-signed token: the IC set has no
	// such key (no fallback to the production set).
	if _, err := f.v.Verify(ctx, f.minter.MustMint(forgesim.WithClaim("icLabel", f.listed))); !errors.Is(err, forge.ErrFITUnknownKID) {
		t.Errorf("production key under an IC label: %v", err)
	}
	// An IC-signed token without icLabel is checked against production only.
	if _, err := f.v.Verify(ctx, f.icMint.MustMint()); !errors.Is(err, forge.ErrFITUnknownKID) {
		t.Errorf("IC key without icLabel: %v", err)
	}
	// Without any IC configuration, a token that names an IC is refused.
	plain := newFixture(t)
	if _, err := plain.verifier(t).Verify(ctx, plain.minter.MustMint(forgesim.WithClaim("icLabel", f.listed))); !errors.Is(err, forge.ErrFITICLabel) {
		t.Errorf("no IC configured: %v", err)
	}
}

func TestICConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string {
		return func(k string) string {
			if k == "FORGE_APP_ID" {
				return forgesim.DefaultAppID
			}
			return m[k]
		}
	}
	cfg, _, err := forge.ConfigFromEnv(env(map[string]string{
		"FORGE_IC_JWKS_URL": "https://forge.cdn.{IC_LABEL}.example/.well-known/jwks.json", "FORGE_IC_LABELS": "acme, beta_2",
	}))
	if err != nil || strings.Join(cfg.ICLabels, ",") != "acme,beta_2" {
		t.Fatalf("valid IC config: %+v %v", cfg, err)
	}
	for name, m := range map[string]map[string]string{
		"labels without template": {"FORGE_IC_LABELS": "acme"},
		"template without label":  {"FORGE_IC_JWKS_URL": "https://forge.cdn.example/jwks.json", "FORGE_IC_LABELS": "acme"},
		"upper-case label":        {"FORGE_IC_JWKS_URL": "https://x/{IC_LABEL}/jwks.json", "FORGE_IC_LABELS": "Acme"},
		"traversal label":         {"FORGE_IC_JWKS_URL": "https://x/{IC_LABEL}/jwks.json", "FORGE_IC_LABELS": "../x"},
		"51-character label":      {"FORGE_IC_JWKS_URL": "https://x/{IC_LABEL}/jwks.json", "FORGE_IC_LABELS": strings.Repeat("a", 51)},
		"template not a URL":      {"FORGE_IC_JWKS_URL": "{IC_LABEL}", "FORGE_IC_LABELS": "acme"},
	} {
		if _, _, err := forge.ConfigFromEnv(env(m)); !errors.Is(err, forge.ErrConfig) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
