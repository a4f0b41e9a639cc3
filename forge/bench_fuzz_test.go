package forge_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/forge"
	"github.com/connect-doctor/connect-doctor/sim/forgesim"
)

// BenchmarkVerifyFIT measures verification with a warm, cached key set
// (issue 8 target: ≤ 60 µs/op).
func BenchmarkVerifyFIT(b *testing.B) {
	f := newFixture(b)
	v := f.verifier(b)
	tok := f.minter.MustMint(forgesim.WithPrincipal("5b10ac8d82e05b22cc7d4ef5"))
	ctx := context.Background()
	if _, err := v.Verify(ctx, tok); err != nil { // warms the key set
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
	if f.host.Fetches() != 1 {
		b.Fatalf("key set fetched %d times", f.host.Fetches())
	}
}

// BenchmarkVerifyFITReplayCache adds the jti replay cache (a fresh token per
// iteration, minted outside the timer).
func BenchmarkVerifyFITReplayCache(b *testing.B) {
	f := newFixture(b)
	f.cfg.ReplayCache = true
	v := f.verifier(b)
	ctx := context.Background()
	toks := make([]string, 2048)
	for i := range toks {
		toks[i] = f.minter.MustMint()
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if i == len(toks) {
			b.StopTimer()
			f.cfg.ReplayCache = true
			v = f.verifier(b)
			i = 0
			b.StartTimer()
		}
		if _, err := v.Verify(ctx, toks[i]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// FuzzVerifyFIT checks that the verifier never panics and never accepts a
// token other than the ones minted by the test key for this app.
func FuzzVerifyFIT(f *testing.F) {
	keys := testKeys()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	m := &forgesim.Minter{Key: keys[0], KID: "k0", Now: clock}
	minted := map[string]bool{}
	// Minting is deterministic (fixed jti, fixed clock, PKCS#1 v1.5), so
	// every fuzz worker process rebuilds the same set.
	good := []string{m.MustMint(forgesim.WithClaim("jti", "seed-0")),
		m.MustMint(forgesim.WithClaim("jti", "seed-1"), forgesim.WithPrincipal("acc-1"))}
	for _, g := range good {
		minted[g] = true
		f.Add(g)
	}
	g := strings.Split(good[0], ".")
	for _, s := range []string{
		m.MustMint(forgesim.WithAlg("none", nil)),
		m.MustMint(forgesim.WithAlg("HS256", nil)),
		m.MustMint(forgesim.WithAlg("RS256", keys[1])),
		m.MustMint(forgesim.WithKID("k1")),
		m.MustMint(forgesim.WithIssuedAt(now.Add(-time.Hour))),
		m.MustMint(forgesim.WithClaim("aud", "forge"), forgesim.WithClaim("iss", "forge/context-token")),
		// icLabel picks a key set before the signature is checked: none is
		// configured here, so every label must be refused, hostile or not.
		m.MustMint(forgesim.WithClaim("icLabel", "acme-gov")),
		m.MustMint(forgesim.WithClaim("icLabel", "../../evil")),
		m.MustMint(forgesim.WithClaim("icLabel", strings.Repeat("a", 51))),
		m.MustMint(forgesim.WithClaim("icLabel", 7)),
		g[0] + "." + g[1] + ".",
		g[0] + "." + g[1] + "." + g[2] + "=",
		g[0] + "." + g[1] + "=." + g[2],
		"", ".", "..", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.", strings.Repeat(".", 1000),
	} {
		f.Add(s)
	}
	v, err := forge.NewVerifierWithKeys(forge.Config{AppID: forgesim.DefaultAppID, Now: clock},
		forge.StaticKeys{"k0": &keys[0].PublicKey, "k1": &keys[2].PublicKey})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(context.Background(), tok)
		if err == nil {
			if !minted[tok] {
				t.Fatalf("accepted a token not minted by the test key: %q", tok)
			}
			if c.App.ID != forgesim.DefaultAppID {
				t.Fatalf("accepted claims for app %q", c.App.ID)
			}
			return
		}
		if code := forge.Code(err); code == "internal" || code == "" {
			t.Fatalf("unclassified error %v", err)
		}
	})
}

// BenchmarkRSAVerifyBaseline is the bare RS256 signature check of the same
// token, the floor under BenchmarkVerifyFIT.
func BenchmarkRSAVerifyBaseline(b *testing.B) {
	f := newFixture(b)
	tok := f.minter.MustMint(forgesim.WithPrincipal("5b10ac8d82e05b22cc7d4ef5"))
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	pub := &testKeys()[0].PublicKey
	b.ReportAllocs()
	for b.Loop() {
		h := sha256.Sum256([]byte(tok[:i]))
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}
