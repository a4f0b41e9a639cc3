// Package loadtest drives a running Connect Doctor app the way many Jira
// sites would: it plays Atlassian's install key server, installs tenants
// with RS256-signed callbacks, then replays pre-signed page and context
// requests (HS256, qsh-bound) from many keep-alive connections for a fixed
// time, or a bare unauthenticated route the same way as a baseline, and
// reports throughput, latency percentiles (log-linear histogram), status
// and transport error counts, and the app's own gauges from /metrics.
package loadtest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
)

// Tenant is one simulated Jira site.
type Tenant struct {
	ClientKey string
	BaseURL   string // https://t<N>.atlassian.net: matches the default ALLOWED_HOSTS
	Secret    string // 43 characters of base64url (256 bits)
}

// Seed identifies a population of tenants: the same seed gives the same
// clientKeys and shared secrets, so a `run` process can sign for tenants
// an earlier `install` process installed. Each tenant's secret is
// HMAC-SHA256(seed, clientKey): distinct per tenant and unguessable without
// the seed.
type Seed []byte

// NewSeed returns 16 random bytes.
func NewSeed() Seed {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return b
}

// ParseSeed reads a seed printed by String (32 hex characters).
func ParseSeed(s string) (Seed, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 16 {
		return nil, errors.New("a seed is 32 hex characters, as printed by the install phase")
	}
	return b, nil
}

func (s Seed) String() string { return hex.EncodeToString(s) }

func (s Seed) mac(label string) []byte {
	m := hmac.New(sha256.New, s)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// Tenants derives n tenants: clientKey "loadgen-<8 hex of the seed>-<i>",
// base URL https://t<i>.atlassian.net, and a fresh 256-bit secret each.
func (s Seed) Tenants(n int) []Tenant {
	id := hex.EncodeToString(s.mac("population"))[:8]
	out := make([]Tenant, n)
	for i := range out {
		ck := fmt.Sprintf("loadgen-%s-%05d", id, i)
		out[i] = Tenant{
			ClientKey: ck,
			BaseURL:   fmt.Sprintf("https://t%d.atlassian.net", i),
			Secret:    base64.RawURLEncoding.EncodeToString(s.mac("secret:" + ck)),
		}
	}
	return out
}
