package config

import (
	"errors"
	"strings"
	"testing"
)

// TestLoadOneErrorPerCause: each bad setting gives exactly one error, on
// the variable that was wrong, with the fix in it; settings derived from a
// bad one (BASE_URL's default from PORT) are not reported again.
func TestLoadOneErrorPerCause(t *testing.T) {
	key := strings.Repeat("ab", 32)
	tests := []struct {
		name    string
		env     map[string]string
		wantVar string
		wantFix string // a piece of the remedy the message must carry
	}{
		{"negative port", map[string]string{"PORT": "-1"}, "PORT", "between 1 and 65535 (unset it for 8080)"},
		{"port not a number", map[string]string{"PORT": "http"}, "PORT", "between 1 and 65535"},
		{"port out of range, base url default", map[string]string{"PORT": "70000"}, "PORT", "unset it for 8080"},
		{"scheme in an allowed host", map[string]string{"ALLOWED_HOSTS": "http://evil.com"}, "ALLOWED_HOSTS", "remove the http:// scheme and list the host alone (evil.com)"},
		{"https scheme in an allowed host", map[string]string{"ALLOWED_HOSTS": "*.atlassian.net,https://acme.atlassian.net"}, "ALLOWED_HOSTS", "remove the https:// scheme"},
		{"wildcard in the middle", map[string]string{"ALLOWED_HOSTS": "evil.*"}, "ALLOWED_HOSTS", `only a leading "*." wildcard`},
		{"plain http base url", map[string]string{"BASE_URL": "http://doctor.example.com"}, "BASE_URL", "must use https"},
		{"postgres without a key", map[string]string{"DATABASE_URL": "postgres://db/x"}, "ENCRYPTION_KEY", "openssl rand -hex 32"},
		{"postgres without a key, during a rotation", map[string]string{"DATABASE_URL": "postgres://db/x", "ENCRYPTION_KEY_PREVIOUS": key}, "ENCRYPTION_KEY", "openssl rand -hex 32"},
		{"invalid key during a rotation", map[string]string{"ENCRYPTION_KEY": "short", "ENCRYPTION_KEY_PREVIOUS": key}, "ENCRYPTION_KEY", "64 hex characters"},
		{"previous key alone", map[string]string{"ENCRYPTION_KEY_PREVIOUS": key}, "ENCRYPTION_KEY_PREVIOUS", "needs ENCRYPTION_KEY"},
		{"mysql", map[string]string{"DATABASE_URL": "mysql://x", "ENCRYPTION_KEY": key}, "DATABASE_URL", "leave it unset for the embedded SQLite"},
		{"unknown scope", map[string]string{"CONNECT_SCOPES": "READ,SUPERUSER"}, "CONNECT_SCOPES", "use READ, WRITE"},
		{"log level", map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL", "debug, info, warn or error"},
		{"shutdown timeout", map[string]string{"SHUTDOWN_TIMEOUT": "soon"}, "SHUTDOWN_TIMEOUT", "such as 15s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(env(tt.env))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Load = %v, want a configuration error", err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != 1 {
				t.Fatalf("%d errors for one cause:\n%v", len(lines), err)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Var != tt.wantVar {
				t.Fatalf("error %v names %q, want %s", err, ce.Var, tt.wantVar)
			}
			if !strings.Contains(lines[0], tt.wantFix) {
				t.Fatalf("error %q lacks the fix %q", lines[0], tt.wantFix)
			}
		})
	}
}

// TestLoadReportsEveryCause: independent mistakes are all reported, once
// each, so a person fixes them in one round.
func TestLoadReportsEveryCause(t *testing.T) {
	_, err := Load(env(map[string]string{"PORT": "-1", "LOG_FORMAT": "xml", "ALLOWED_HOSTS": "http://evil.com"}))
	var vars []string
	for _, line := range strings.Split(err.Error(), "\n") {
		name, _, _ := strings.Cut(strings.TrimPrefix(line, "config: "), "=")
		vars = append(vars, name)
	}
	if got := strings.Join(vars, ","); got != "PORT,ALLOWED_HOSTS,LOG_FORMAT" {
		t.Fatalf("errors for %s, want PORT,ALLOWED_HOSTS,LOG_FORMAT:\n%v", got, err)
	}
}
