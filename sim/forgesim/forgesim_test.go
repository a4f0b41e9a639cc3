package forgesim_test

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/sim/forgesim"
)

func key(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile("../../forge/testdata/test-key-0.pem")
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyHostAndMinter(t *testing.T) {
	k := key(t)
	h := forgesim.NewKeyHost(map[string]*rsa.PrivateKey{"k0": k})
	defer h.Close()
	resp, err := h.Client().Get(h.URL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil || len(set.Keys) != 1 || set.Keys[0]["kid"] != "k0" || set.Keys[0]["alg"] != "RS256" || h.Fetches() != 1 {
		t.Fatalf("jwks %s, err %v, fetches %d", body, err, h.Fetches())
	}
	h.FailWith(http.StatusTeapot)
	if resp, _ := h.Client().Get(h.URL()); resp.StatusCode != http.StatusTeapot {
		t.Errorf("FailWith: status %d", resp.StatusCode)
	}

	now := time.Unix(1_800_000_000, 0)
	m := &forgesim.Minter{Key: k, KID: "k0", Now: func() time.Time { return now }}
	tok := m.MustMint(forgesim.WithClaim("app.environment.type", "DEVELOPMENT"), forgesim.WithLifetime(time.Minute))
	var claims jwt.MapClaims
	parsed, err := jwt.NewParser(jwt.WithTimeFunc(func() time.Time { return now })).ParseWithClaims(tok, &claims, func(*jwt.Token) (any, error) { return &k.PublicKey, nil })
	if err != nil || parsed.Header["kid"] != "k0" {
		t.Fatalf("minted token: %v %v", err, parsed.Header)
	}
	app := claims["app"].(map[string]any)
	if claims["iss"] != forgesim.Issuer || claims["aud"] != forgesim.DefaultAppID || app["environment"].(map[string]any)["type"] != "DEVELOPMENT" ||
		claims["exp"].(float64)-claims["iat"].(float64) != 60 || app["id"] != forgesim.DefaultAppID {
		t.Errorf("claims %v", claims)
	}
	// The edit did not leak into the next token.
	var again jwt.MapClaims
	_, _ = jwt.NewParser(jwt.WithoutClaimsValidation()).ParseWithClaims(m.MustMint(), &again, func(*jwt.Token) (any, error) { return &k.PublicKey, nil })
	if again["app"].(map[string]any)["environment"].(map[string]any)["type"] != "PRODUCTION" {
		t.Error("claim edits leak between tokens")
	}
}

func TestInvocationHeaders(t *testing.T) {
	h := forgesim.Invocation{FIT: "fit", SystemToken: "sys", Custom: http.Header{"X-Custom": {"1"}, "Authorization": {"evil"}}}.Header()
	if h.Get("Authorization") != "Bearer fit" || h.Get(forgesim.HeaderSystemToken) != "sys" || h.Get(forgesim.HeaderUserToken) != "" ||
		h.Get(forgesim.HeaderTraceID) == "" || h.Get(forgesim.HeaderSpanID) == "" || h.Get("X-Custom") != "1" {
		t.Errorf("headers %v", h)
	}
	rr := forgesim.RequestRemote("fit").Header()
	if rr.Get(forgesim.HeaderSystemToken) != "" || rr.Get(forgesim.HeaderUserToken) != "" {
		t.Errorf("requestRemote carried OAuth headers: %v", rr)
	}
}
