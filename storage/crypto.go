package storage

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// ErrDecrypt is returned when a stored secret cannot be decrypted: wrong or
// missing ENCRYPTION_KEY, or a tampered row.
var ErrDecrypt = errors.New("cannot decrypt stored secret")

// Sealer encrypts secrets at rest with AES-256-GCM. Each ciphertext records
// the id of the key that sealed it ("v1.<keyid>.<base64>"), and the
// clientKey is bound as additional data, so a ciphertext copied onto another
// tenant's row does not decrypt. Several keys may be held at once so that a
// key rotation can proceed while old rows are re-encrypted.
type Sealer struct {
	current string
	aeads   map[string]cipher.AEAD
}

// NewSealer builds a sealer that encrypts with primary and decrypts with
// primary or any of the older keys. Keys are 32 bytes.
func NewSealer(primary []byte, older ...[]byte) (*Sealer, error) {
	s := &Sealer{aeads: map[string]cipher.AEAD{}}
	for i, k := range append([][]byte{primary}, older...) {
		if len(k) != 32 {
			return nil, fmt.Errorf("encryption key %d: need 32 bytes, have %d", i, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := KeyID(k)
		s.aeads[id] = aead
		if i == 0 {
			s.current = id
		}
	}
	return s, nil
}

// KeyID is a short public fingerprint of a key (not reversible).
func KeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("connect-doctor key id\x00"), key...))
	return hex.EncodeToString(sum[:4])
}

// CurrentKeyID names the key new ciphertexts are sealed with.
func (s *Sealer) CurrentKeyID() string { return s.current }

// Seal encrypts plaintext for the row identified by aad.
func (s *Sealer) Seal(plaintext, aad string) (string, error) {
	aead := s.aeads[s.current]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	ct := aead.Seal(nonce, nonce, []byte(plaintext), []byte(aad))
	return "v1." + s.current + "." + base64.RawStdEncoding.EncodeToString(ct), nil
}

// Open decrypts a value produced by Seal with the same aad.
func (s *Sealer) Open(sealed, aad string) (string, error) {
	parts := strings.SplitN(sealed, ".", 3)
	if len(parts) != 3 || parts[0] != "v1" {
		return "", fmt.Errorf("%w: unknown format", ErrDecrypt)
	}
	aead, ok := s.aeads[parts[1]]
	if !ok {
		return "", fmt.Errorf("%w: sealed with key %s, which is not configured", ErrDecrypt, parts[1])
	}
	ct, err := base64.RawStdEncoding.DecodeString(parts[2])
	if err != nil || len(ct) < aead.NonceSize() {
		return "", fmt.Errorf("%w: malformed ciphertext", ErrDecrypt)
	}
	pt, err := aead.Open(nil, ct[:aead.NonceSize()], ct[aead.NonceSize():], []byte(aad))
	if err != nil {
		return "", fmt.Errorf("%w: authentication failed", ErrDecrypt)
	}
	return string(pt), nil
}

// SealedWith returns the key id a sealed value was encrypted with.
func SealedWith(sealed string) string {
	parts := strings.SplitN(sealed, ".", 3)
	if len(parts) != 3 {
		return ""
	}
	return parts[1]
}
