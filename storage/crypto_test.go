package storage

import (
	"errors"
	"strings"
	"testing"
)

func key(b byte) []byte { return []byte(strings.Repeat(string(rune('a'+b)), 32)) }

func TestSealer(t *testing.T) {
	s, err := NewSealer(key(0))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal("top-secret", "client-a")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		sealer  *Sealer
		sealed  string
		aad     string
		want    string
		wantErr bool
	}{
		{"round trip", s, sealed, "client-a", "top-secret", false},
		{"other tenant's row", s, sealed, "client-b", "", true},
		{"tampered", s, sealed[:len(sealed)-2] + "AA", "client-a", "", true},
		{"garbage", s, "plaintext", "client-a", "", true},
		{"unknown key", mustSealer(t, key(1)), sealed, "client-a", "", true},
		{"old key still accepted during rotation", mustSealer(t, key(1), key(0)), sealed, "client-a", "top-secret", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sealer.Open(tt.sealed, tt.aad)
			if tt.wantErr {
				if !errors.Is(err, ErrDecrypt) {
					t.Fatalf("want ErrDecrypt, got %q %v", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q %v", got, err)
			}
		})
	}
	if _, err := NewSealer([]byte("short")); err == nil {
		t.Fatal("short key accepted")
	}
	a, _ := s.Seal("x", "c")
	b, _ := s.Seal("x", "c")
	if a == b {
		t.Fatal("nonce reuse: two seals are identical")
	}
}

func mustSealer(t *testing.T, k ...[]byte) *Sealer {
	s, err := NewSealer(k[0], k[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
