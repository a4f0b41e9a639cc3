package jirasim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"sync"
)

// The random helpers draw from the seeded generator under s.mu or during
// New, so a fixed seed always gives the same sequence of ids.

const (
	hexDigits = "0123456789abcdef"
	alnum     = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	urlSafe   = alnum + "-_"
)

func (s *Sim) pick(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[s.rng.IntN(len(alphabet))]
	}
	return string(b)
}

// uuid returns a version-4 shaped UUID.
func (s *Sim) uuid() string {
	h := []byte(s.pick(hexDigits, 32))
	h[12] = '4'
	h[16] = "89ab"[s.rng.IntN(4)]
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
}

// accountID returns a 24-hex-digit Atlassian accountId such as
// "5b10ac8d82e05b22cc7d4ef5".
func (s *Sim) accountID() string { return "5" + s.pick(hexDigits, 23) }

func (s *Sim) randomString(n int) string { return s.pick(urlSafe, n) }

// keyCache memoises one generated 2048-bit RSA key per (seed, index) for the
// life of the process, so that tests creating many simulators do not pay
// for key generation each time. Keys are immutable once made; the cache is
// a memo of a (conceptually) pure function, not behaviour-changing state.
var keyCache = struct {
	sync.Mutex
	m map[[2]int64]*rsa.PrivateKey
}{m: map[[2]int64]*rsa.PrivateKey{}}

func cachedKey(seed int64, idx int) (*rsa.PrivateKey, error) {
	keyCache.Lock()
	defer keyCache.Unlock()
	k := [2]int64{seed, int64(idx)}
	if key, ok := keyCache.m[k]; ok {
		return key, nil
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("jirasim: generate RSA key: %w", err)
	}
	keyCache.m[k] = key
	return key, nil
}

func (s *Sim) initKeys() error {
	_, err := s.addKey()
	return err
}

// addKey makes the next install key current. Called during New or under
// s.mu.
func (s *Sim) addKey() (string, error) {
	idx := len(s.keys)
	var key *rsa.PrivateKey
	if idx < len(s.opts.InstallKeys) {
		key = s.opts.InstallKeys[idx]
	} else {
		var err error
		if key, err = cachedKey(s.opts.Seed, idx); err != nil {
			return "", err
		}
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", fmt.Errorf("jirasim: marshal public key: %w", err)
	}
	k := installKey{
		kid: s.uuid(),
		key: key,
		pem: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
	}
	s.keys = append(s.keys, k)
	s.keyIdx = idx
	return k.kid, nil
}

// RotateInstallKey makes a new install key current, under a new kid, and
// returns that kid. Old keys stay on the key server, as on Atlassian's CDN.
func (s *Sim) RotateInstallKey() (kid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kid, err := s.addKey()
	if err != nil {
		s.log.Error("jirasim: key rotation failed", "err", err)
		return s.keys[s.keyIdx].kid
	}
	s.log.Info("jirasim: install key rotated", "kid", kid)
	return kid
}

// InstallKeyID returns the kid of the current install key.
func (s *Sim) InstallKeyID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[s.keyIdx].kid
}

func (s *Sim) currentKey() installKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[s.keyIdx]
}
