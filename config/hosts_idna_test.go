package config_test

import (
	"errors"
	"testing"

	"github.com/connect-doctor/connect-doctor/config"
)

// TestASCIIHost: a host is matched only in its ASCII (IDNA UTS-46) form,
// and any host that mapping changes is refused (issue 16 item 11).
func TestASCIIHost(t *testing.T) {
	tests := []struct {
		name, host, want string
		refused          bool
	}{
		{"ascii", "acme.atlassian.net", "acme.atlassian.net", false},
		{"ascii upper case", "ACME.Atlassian.NET", "acme.atlassian.net", false},
		{"punycode", "xn--bcher-kva.example", "xn--bcher-kva.example", false},
		{"ipv4", "127.0.0.1", "127.0.0.1", false},
		{"fullwidth dot U+FF0E", "evil\uff0eacme.atlassian.net", "", true},
		{"ideographic dot U+3002", "evil\u3002acme.atlassian.net", "", true},
		{"halfwidth ideographic dot U+FF61", "evil\uff61acme.atlassian.net", "", true},
		{"zero-width space", "acme\u200b.atlassian.net", "", true},
		{"zero-width joiner", "ac\u200dme.atlassian.net", "", true},
		{"soft hyphen", "ac\u00adme.atlassian.net", "", true},
		{"fullwidth letter", "\uff41cme.atlassian.net", "", true},
		{"unicode label", "bücher.example", "", true},
		{"empty label", "acme..atlassian.net", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := config.ASCIIHost(tt.host)
			if tt.refused {
				if !errors.Is(err, config.ErrHostNotAllowed) {
					t.Fatalf("ASCIIHost(%q) = %q, %v; want refused", tt.host, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ASCIIHost(%q) = %q, %v; want %q", tt.host, got, err, tt.want)
			}
		})
	}
	if _, err := config.ParseHostPatterns("*.atlassian\uff0enet"); err == nil {
		t.Error("an ALLOWED_HOSTS pattern with a fullwidth dot was accepted")
	}
}
