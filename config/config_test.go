package config

import (
	"errors"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8080 || c.BaseURL != "http://localhost:8080" || c.AppKey != "connect-doctor" || c.DataDir != "./data" ||
		c.Scopes.String() != "READ,ACT_AS_USER" || c.InstallKeysURL != DefaultInstallKeysURL || len(c.AllowedHosts) != 3 ||
		c.EncryptionKey != nil || c.LogFormat != "text" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestLoadErrorsNameTheVariable(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"bad port", map[string]string{"PORT": "http"}, "PORT"},
		{"port out of range", map[string]string{"PORT": "70000"}, "PORT"},
		{"plain http base url", map[string]string{"BASE_URL": "http://doctor.example.com"}, "BASE_URL"},
		{"relative base url", map[string]string{"BASE_URL": "doctor.example.com"}, "BASE_URL"},
		{"mysql database", map[string]string{"DATABASE_URL": "mysql://x", "ENCRYPTION_KEY": strings.Repeat("a", 64)}, "DATABASE_URL"},
		{"postgres without key", map[string]string{"DATABASE_URL": "postgres://db/x"}, "ENCRYPTION_KEY"},
		{"short key", map[string]string{"ENCRYPTION_KEY": "abcd"}, "ENCRYPTION_KEY"},
		{"bad app key", map[string]string{"APP_KEY": "my app!"}, "APP_KEY"},
		{"unknown scope", map[string]string{"CONNECT_SCOPES": "READ,SUPERUSER"}, "CONNECT_SCOPES"},
		{"undeclarable scope", map[string]string{"CONNECT_SCOPES": "INACCESSIBLE"}, "CONNECT_SCOPES"},
		{"http key server", map[string]string{"CONNECT_INSTALL_KEYS_URL": "http://keys.example.com"}, "CONNECT_INSTALL_KEYS_URL"},
		{"bad host pattern", map[string]string{"ALLOWED_HOSTS": "evil.*"}, "ALLOWED_HOSTS"},
		{"bad log level", map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{"bad log format", map[string]string{"LOG_FORMAT": "xml"}, "LOG_FORMAT"},
		{"trusted proxy not an address", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,lb.example.com"}, "TRUSTED_PROXIES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(env(tt.env))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v should name %s", err, tt.want)
			}
		})
	}
}

func TestEncryptionKeyFormats(t *testing.T) {
	for _, k := range []string{strings.Repeat("0f", 32), "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="} {
		if b, err := ParseEncryptionKey(k); err != nil || len(b) != 32 {
			t.Fatalf("%q: %v", k, err)
		}
	}
}

func TestCheckBaseURL(t *testing.T) {
	pats, err := ParseHostPatterns("*.atlassian.net,*.jira-dev.com,127.0.0.1:9000,localhost")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://acme.atlassian.net", true},
		{"https://ACME.atlassian.net/", true},
		{"https://acme.jira-dev.com", true},
		{"https://a.b.atlassian.net", false}, // * is one label
		{"https://atlassian.net", false},
		{"https://acme.atlassian.net.evil.com", false},
		{"https://x.atlassian.net@evil.com", false},
		{"https://evil.com#.atlassian.net", false},
		{"https://evil.com?x=.atlassian.net", false},
		{"http://acme.atlassian.net", false},
		{"http://127.0.0.1:9000", true},
		{"http://127.0.0.1:9001", false},
		{"http://localhost:1234", true},
		{"https://10.0.0.1", false},
		{"https://169.254.169.254", false},
		{"ftp://acme.atlassian.net", false},
		{"acme.atlassian.net", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := CheckBaseURL(tt.url, pats)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckBaseURL(%q) = %v, want ok=%v", tt.url, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrHostNotAllowed) {
				t.Fatalf("error not wrapped: %v", err)
			}
		})
	}
}

// TestRedactDSN (issue 16 item 12): a DATABASE_URL is printed without its
// password, also when it does not parse (the configuration error quotes
// it).
func TestRedactDSN(t *testing.T) {
	cases := []struct{ name, in, secret string }{
		{"parsable", "postgres://app:s3cret-pw@db:5432/cd", "s3cret-pw"},
		{"bad port", "postgres://app:s3cret-pw@db:54x32/cd", "s3cret-pw"},
		{"bad escape in password", "postgres://app:s3cret%zz@db/cd", "s3cret"},
		{"@ in password", "postgres://app:p@ss@db:5x/cd", "p@ss"},
		{"password parameter", "postgres://db/cd?user=app&password=s3cret-pw", "s3cret-pw"},
		{"key value DSN", "host=db user=app password=s3cret-pw dbname=cd", "s3cret-pw"},
		{"control character", "postgres://app:s3cret-pw@db/\x7f", "s3cret-pw"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := RedactDSN(tc.in); strings.Contains(got, tc.secret) {
				t.Fatalf("RedactDSN(%q) = %q", tc.in, got)
			}
		})
	}
	_, err := Load(func(k string) string {
		return map[string]string{"BASE_URL": "https://cd.example.com", "DATABASE_URL": "postgres://app:s3cret-pw@db:54x32/cd",
			"ENCRYPTION_KEY": strings.Repeat("ab", 32)}[k]
	})
	if err == nil || strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("configuration error: %v", err)
	}
}

func TestTrustedProxies(t *testing.T) {
	c, err := Load(env(map[string]string{"TRUSTED_PROXIES": " 10.0.0.0/8, 192.0.2.7 ,,2001:db8::/32"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.TrustedProxies, "|"); got != "10.0.0.0/8|192.0.2.7|2001:db8::/32" {
		t.Fatalf("TrustedProxies = %q", got)
	}
	if c, err := Load(env(nil)); err != nil || c.TrustedProxies != nil {
		t.Fatalf("unset: %v, %v (want none: the TCP peer is the client)", c.TrustedProxies, err)
	}
}
