package forge_test

import (
	"context"
	"crypto/rsa"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/api/httperr"
	"github.com/connect-doctor/connect-doctor/forge"
	"github.com/connect-doctor/connect-doctor/sim/forgesim"
)

func keySet(f *fixture, opts forge.KeySetOptions) *forge.RemoteKeySet {
	if opts.HTTPClient == nil {
		opts.HTTPClient = f.host.Client()
	}
	if opts.Now == nil {
		opts.Now = f.clock.Now
	}
	return forge.NewRemoteKeySet(f.host.URL(), opts)
}

func TestKeySetRotation(t *testing.T) {
	f := newFixture(t)
	keys := testKeys()
	v := f.verifier(t)
	if _, err := v.Verify(context.Background(), f.minter.MustMint()); err != nil {
		t.Fatal(err)
	}
	if n := f.host.Fetches(); n != 1 {
		t.Fatalf("fetches after first verify = %d, want 1", n)
	}
	for range 5 {
		if _, err := v.Verify(context.Background(), f.minter.MustMint()); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.host.Fetches(); n != 1 {
		t.Fatalf("cached key was re-fetched: %d fetches", n)
	}

	// Forge rotates: a new kid appears, the old one goes.
	f.host.Rotate("k1", keys[1], false)
	f.clock.Advance(forge.DefaultKeySetCooldown)
	rotated := &forgesim.Minter{Key: keys[1], KID: "k1", Now: f.clock.Now}
	if _, err := v.Verify(context.Background(), rotated.MustMint()); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	if n := f.host.Fetches(); n != 2 {
		t.Errorf("fetches after rotation = %d, want 2", n)
	}
	// The retired kid is gone from the refreshed set.
	f.clock.Advance(forge.DefaultKeySetCooldown)
	if _, err := v.Verify(context.Background(), f.minter.MustMint()); !errors.Is(err, forge.ErrFITUnknownKID) {
		t.Errorf("retired kid: err = %v, want ErrFITUnknownKID", err)
	}
}

func TestKeySetUnknownKIDCooldown(t *testing.T) {
	f := newFixture(t)
	ks := keySet(f, forge.KeySetOptions{Cooldown: 30 * time.Second})
	ctx := context.Background()
	if _, err := ks.Key(ctx, "k0"); err != nil {
		t.Fatal(err)
	}
	// An unknown kid right after a fetch fails fast, without a fetch.
	for range 10 {
		if _, err := ks.Key(ctx, "nope"); !errors.Is(err, forge.ErrFITUnknownKID) || forge.Code(err) != "fit_unknown_kid" {
			t.Fatalf("err = %v, want ErrFITUnknownKID", err)
		}
	}
	if n := f.host.Fetches(); n != 1 {
		t.Fatalf("fetches during cooldown = %d, want 1", n)
	}
	// After the cooldown one refresh happens.
	f.clock.Advance(30 * time.Second)
	if _, err := ks.Key(ctx, "nope"); !errors.Is(err, forge.ErrFITUnknownKID) {
		t.Fatalf("err = %v", err)
	}
	if n := f.host.Fetches(); n != 2 {
		t.Errorf("fetches after cooldown = %d, want 2", n)
	}
	// Known kids keep working throughout, from the cache.
	if _, err := ks.Key(ctx, "k0"); err != nil || f.host.Fetches() != 2 {
		t.Errorf("known kid: %v, fetches %d", err, f.host.Fetches())
	}
}

func TestKeySetServerError(t *testing.T) {
	f := newFixture(t)
	f.host.FailWith(http.StatusInternalServerError)
	ks := keySet(f, forge.KeySetOptions{})
	_, err := ks.Key(context.Background(), "k0")
	if !errors.Is(err, forge.ErrJWKSUnavailable) || !strings.Contains(err.Error(), "status 500") {
		t.Fatalf("err = %v, want ErrJWKSUnavailable with status 500", err)
	}
	if status := httperr.Status(err); status != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", status)
	}
	// Within the cooldown the failure is remembered, not retried.
	if _, err := ks.Key(context.Background(), "k0"); !errors.Is(err, forge.ErrJWKSUnavailable) || f.host.Fetches() != 1 {
		t.Errorf("during cooldown: %v, fetches %d", err, f.host.Fetches())
	}
	// The host recovers; after the cooldown the key is found.
	f.host.FailWith(0)
	f.clock.Advance(forge.DefaultKeySetCooldown)
	if _, err := ks.Key(context.Background(), "k0"); err != nil {
		t.Errorf("after recovery: %v", err)
	}
}

func TestKeySetStaleSetSurvivesOutage(t *testing.T) {
	f := newFixture(t)
	ks := keySet(f, forge.KeySetOptions{MaxAge: time.Minute})
	if _, err := ks.Key(context.Background(), "k0"); err != nil {
		t.Fatal(err)
	}
	f.host.FailWith(http.StatusBadGateway)
	f.clock.Advance(2 * time.Minute)
	if _, err := ks.Key(context.Background(), "k0"); err != nil {
		t.Errorf("known key in a stale set during an outage: %v", err)
	}
	if n := f.host.Fetches(); n != 2 {
		t.Errorf("fetches = %d, want 2 (one refresh attempt for the stale set)", n)
	}
}

func TestKeySetSlowServerContextCancel(t *testing.T) {
	f := newFixture(t)
	f.host.Block()
	ks := keySet(f, forge.KeySetOptions{Timeout: 10 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := ks.Key(ctx, "k0")
		errc <- err
	}()
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Key did not return after its context was cancelled")
	}
	// Through the verifier the same situation is a 503, not a 401.
	v, _ := forge.NewVerifierWithKeys(f.cfg, ks)
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	_, err := v.Verify(ctx2, f.minter.MustMint())
	if !errors.Is(err, forge.ErrJWKSUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("verify: err = %v", err)
	}
	f.host.Unblock()
}

func TestKeySetFetchTimeout(t *testing.T) {
	f := newFixture(t)
	f.host.Block()
	ks := keySet(f, forge.KeySetOptions{Timeout: 50 * time.Millisecond})
	_, err := ks.Key(context.Background(), "k0")
	if !errors.Is(err, forge.ErrJWKSUnavailable) {
		t.Errorf("err = %v, want ErrJWKSUnavailable after the fetch timeout", err)
	}
}

func TestKeySetMalformed(t *testing.T) {
	keys := testKeys()
	pub := &keys[0].PublicKey
	tests := []struct {
		name string
		body []byte
	}{
		{"not json", []byte("<html>gateway</html>")},
		{"no keys", []byte(`{"keys":[]}`)},
		{"keys not a list", []byte(`{"keys":{}}`)},
		{"only an encryption key", forgesim.JWKS(forgesim.Key{KID: "k0", Public: pub, Use: "enc"})},
		{"only an RS512 key", forgesim.JWKS(forgesim.Key{KID: "k0", Public: pub, Alg: "RS512"})},
		{"bad modulus", []byte(`{"keys":[{"kty":"RSA","kid":"k0","n":"!!","e":"AQAB"}]}`)},
		{"tiny modulus", []byte(`{"keys":[{"kty":"RSA","kid":"k0","n":"AQAB","e":"AQAB"}]}`)},
		{"ec key", []byte(`{"keys":[{"kty":"EC","kid":"k0","crv":"P-256","x":"AA","y":"AA"}]}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.host.ServeBody(tt.body)
			_, err := keySet(f, forge.KeySetOptions{}).Key(context.Background(), "k0")
			if !errors.Is(err, forge.ErrJWKSUnavailable) || !errors.Is(err, forge.ErrJWKSMalformed) {
				t.Errorf("err = %v, want ErrJWKSUnavailable wrapping ErrJWKSMalformed", err)
			}
		})
	}
}

func TestParseJWKSKeepsOnlyUsableKeys(t *testing.T) {
	keys := testKeys()
	body := forgesim.JWKS(
		forgesim.Key{KID: "good", Public: &keys[0].PublicKey},
		forgesim.Key{KID: "no-use-no-alg", Public: &keys[1].PublicKey, Use: "-", Alg: "-"},
		forgesim.Key{KID: "enc", Public: &keys[2].PublicKey, Use: "enc"},
		forgesim.Key{KID: "ps256", Public: &keys[2].PublicKey, Alg: "PS256"},
	)
	got, err := forge.ParseJWKS(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["good"] == nil || got["no-use-no-alg"] == nil {
		t.Errorf("keys = %v", got)
	}
	if !got["good"].Equal(&keys[0].PublicKey) {
		t.Error("parsed key differs from the published one")
	}
}

func TestKeySetBodyCap(t *testing.T) {
	f := newFixture(t)
	ks := keySet(f, forge.KeySetOptions{BodyCap: 100})
	_, err := ks.Key(context.Background(), "k0")
	if !errors.Is(err, forge.ErrJWKSUnavailable) || !strings.Contains(err.Error(), "larger than 100 bytes") {
		t.Errorf("err = %v", err)
	}
}

func TestKeySetConcurrentFirstRequestsFetchOnce(t *testing.T) {
	f := newFixture(t)
	f.host.Block() // hold the first fetch so every caller piles up behind it
	v := f.verifier(t)
	tok := f.minter.MustMint()
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	started := make(chan struct{}, n)
	for range n {
		wg.Go(func() {
			started <- struct{}{}
			_, err := v.Verify(context.Background(), tok)
			errs <- err
		})
	}
	for range n {
		<-started
	}
	f.host.Unblock()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("verify: %v", err)
		}
	}
	if got := f.host.Fetches(); got != 1 {
		t.Errorf("JWKS fetches = %d, want exactly 1", got)
	}
}

func TestKeySetsSharePerURL(t *testing.T) {
	f := newFixture(t)
	sets := forge.NewKeySets(forge.KeySetOptions{HTTPClient: f.host.Client(), Now: f.clock.Now})
	if sets.For(f.host.URL()) != sets.For(f.host.URL()) {
		t.Fatal("For returned two sets for one URL")
	}
	f.cfg.KeySets = sets
	v1, v2 := f.verifier(t), f.verifier(t)
	for _, v := range []*forge.Verifier{v1, v2} {
		if _, err := v.Verify(context.Background(), f.minter.MustMint()); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.host.Fetches(); n != 1 {
		t.Errorf("two verifiers sharing KeySets fetched %d times, want 1", n)
	}
}

func TestStagingKeySetOnlyWhenAllowed(t *testing.T) {
	f := newFixture(t)
	keys := testKeys()
	staging := forgesim.NewKeyHost(map[string]*rsa.PrivateKey{"stg": keys[2]})
	defer staging.Close()
	stgMinter := &forgesim.Minter{Key: keys[2], KID: "stg", Now: f.clock.Now,
		APIBaseURL: "https://api.stg.atlassian.com/ex/jira/abc"}
	f.cfg.StagingURL = staging.URL()

	prodOnly := f.verifier(t)
	if _, err := prodOnly.Verify(context.Background(), stgMinter.MustMint()); !errors.Is(err, forge.ErrFITUnknownKID) {
		t.Errorf("staging token on a production backend: err = %v, want ErrFITUnknownKID", err)
	}
	if staging.Fetches() != 0 {
		t.Errorf("the staging JWKS was fetched although staging is off (the apiBaseUrl claim must not choose it)")
	}

	f.cfg.AllowStaging = true
	both := f.verifier(t)
	if _, err := both.Verify(context.Background(), stgMinter.MustMint()); err != nil {
		t.Errorf("staging allowed: %v", err)
	}
	if _, err := both.Verify(context.Background(), f.minter.MustMint()); err != nil {
		t.Errorf("production token with staging allowed: %v", err)
	}
}

func TestStaticKeys(t *testing.T) {
	f := newFixture(t)
	v, err := forge.NewVerifierWithKeys(f.cfg, forge.StaticKeys{"k0": &testKeys()[0].PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), f.minter.MustMint()); err != nil {
		t.Error(err)
	}
	if _, err := v.Verify(context.Background(), f.minter.MustMint(forgesim.WithKID("k9"))); !errors.Is(err, forge.ErrFITUnknownKID) {
		t.Errorf("err = %v", err)
	}
	if _, err := forge.NewVerifierWithKeys(f.cfg); !errors.Is(err, forge.ErrConfig) {
		t.Errorf("no keys: %v", err)
	}
}
