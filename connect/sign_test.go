package connect_test

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/connect"
)

func TestSignAppTokenVerifiesWithGolangJWT(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name, appKey, clientKey, basePath, method, uri string
	}{
		{"plain", "my-app", "ck-1", "", "GET", "/rest/api/3/myself"},
		{"confluence base path and query", "my-app", "ck-2", "/wiki", "POST", "/wiki/rest/api/content?expand=body.storage&limit=5"},
		{"keys needing JSON escapes", "app\"<x>", "ck\u00e9", "", "DELETE", "/rest/api/3/issue/ABC-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret := "a-shared-secret-of-some-length"
			tok := connect.SignAppToken(tt.appKey, tt.clientKey, secret, tt.basePath, tt.method, tt.uri, now)
			if !strings.HasPrefix(tok, connect.HS256Header+".") {
				t.Fatalf("header: %s", tok)
			}
			var c struct {
				jwt.RegisteredClaims
				QSH string `json:"qsh"`
			}
			p := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return now }),
				jwt.WithIssuedAt(), jwt.WithExpirationRequired())
			if _, err := p.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return []byte(secret), nil }); err != nil {
				t.Fatalf("golang-jwt refuses our token: %v", err)
			}
			if c.Issuer != tt.appKey || len(c.Audience) != 1 || c.Audience[0] != tt.clientKey {
				t.Errorf("iss/aud = %q %v", c.Issuer, c.Audience)
			}
			if got := c.ExpiresAt.Sub(c.IssuedAt.Time); got != connect.AppTokenLifetime {
				t.Errorf("lifetime %v", got)
			}
			if want := connect.RequestQSH(tt.method, tt.uri, tt.basePath); c.QSH != want {
				t.Errorf("qsh %s, want %s", c.QSH, want)
			}
			if _, err := p.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return []byte("another-secret-entirely"), nil }); err == nil {
				t.Error("verified under another secret")
			}
		})
	}
}
