package forge_test

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/forge"
	"github.com/connect-doctor/connect-doctor/sim/forgesim"
)

// Keys are slow to generate (very slow under fuzzing instrumentation), so
// the tests share three fixed test-only keys from testdata.
var testKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	ks := make([]*rsa.PrivateKey, 3)
	for i := range ks {
		b, err := os.ReadFile(fmt.Sprintf("testdata/test-key-%d.pem", i))
		if err != nil {
			panic(err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			panic("bad PEM")
		}
		k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
		if err != nil {
			panic(err)
		}
		ks[i] = k
	}
	return ks
})

// clock is an injectable, advanceable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	host   *forgesim.KeyHost
	clock  *clock
	minter *forgesim.Minter
	cfg    forge.Config
}

// newFixture starts a key host publishing key 0 as "k0" and a minter and
// config pointing at it.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	keys := testKeys()
	host := forgesim.NewKeyHost(map[string]*rsa.PrivateKey{"k0": keys[0]})
	t.Cleanup(host.Close)
	c := newClock()
	return &fixture{
		host:   host,
		clock:  c,
		minter: &forgesim.Minter{Key: keys[0], KID: "k0", Now: c.Now},
		cfg: forge.Config{
			AppID:      forgesim.DefaultAppID,
			JWKSURL:    host.URL(),
			Now:        c.Now,
			HTTPClient: host.Client(),
		},
	}
}

func (f *fixture) verifier(t testing.TB) *forge.Verifier {
	t.Helper()
	v, err := forge.NewVerifier(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
