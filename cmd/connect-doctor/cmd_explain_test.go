package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(t *testing.T, stdin string, args ...string) (code int, out, errOut string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, stdio{in: strings.NewReader(stdin), out: &o, err: &e, getenv: func(string) string { return "" }})
	return code, o.String(), e.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The full app-token vector of connect-protocol.md §1.c (secret
// shared-secret-xyz, iat 1700000000, exp 1700000180, qsh of GET /rest/api/3/myself).
const vectorToken = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJteS1hcHAta2V5IiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDAxODAsInFzaCI6ImM3OTBlODYzY2VjZGRiZjEzNjlkNWUwNThkNWY3MWQ5ZDE5NzQxYTQ5N2E2ZTQ2ODEzNTE5MDkxMDk3NTk1MTMiLCJhdWQiOlsiY2xpZW50LWtleS0xMjMiXX0.YuBJDIu0zNbRuMe5NFOq5QHf0qwQ-VcFSv7oZq_UMGw"

const anon401 = "HTTP/2 401 \r\ncontent-type: application/json;charset=UTF-8\r\nserver: AtlassianEdge\r\natl-traceid: 1a2b\r\n\r\n" +
	`{"message":"Client must be authenticated to access this resource.","status-code":401}`

func TestExplainFromFlags(t *testing.T) {
	code, out, errOut := runCmd(t, "", "explain", "--method", "GET", "--url", "https://acme.atlassian.net/rest/api/3/myself",
		"--status", "401", "--header", "Authorization: Bearer "+vectorToken, "--body", `{"message":"Client must be authenticated to access this resource.","status-code":401}`,
		"--app-key", "my-app-key", "--now", "2023-11-14T22:14:00Z")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"401 · authentication", "auth_scheme_invalid", "Authorization: JWT <token>", "getCurrentUser"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("colour written to a non-terminal")
	}
}

func TestExplainJSON(t *testing.T) {
	code, out, errOut := runCmd(t, "", "explain", "--json", "--url", "/rest/api/2/permissions", "--base-url", "https://acme.atlassian.net",
		"--status", "401", "--identity", "user", "--scopes", "read,write,act_as_user", "--header", "Authorization: Bearer opaque-user-token")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var d struct {
		Status  int    `json:"status"`
		Verdict string `json:"verdict"`
		Causes  []struct {
			Code       string   `json:"code"`
			Confidence float64  `json:"confidence"`
			Evidence   []string `json:"evidence"`
			Fix        string   `json:"fix"`
		} `json:"causes"`
		Endpoint *struct {
			ConnectScope string `json:"connectScope"`
		} `json:"endpoint"`
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if d.Status != 401 || len(d.Causes) == 0 || d.Causes[0].Code != "token_scope_missing" || d.Endpoint == nil || d.Endpoint.ConnectScope != "ADMIN" {
		t.Fatalf("unexpected diagnosis: %s", out)
	}
	if !strings.Contains(d.Causes[0].Fix, `"admin"`) {
		t.Errorf("fix does not name the scope: %s", d.Causes[0].Fix)
	}
}

func TestExplainFromFiles(t *testing.T) {
	t.Run("response file plus request flags", func(t *testing.T) {
		resp := writeFile(t, "resp.txt", anon401)
		code, out, errOut := runCmd(t, "", "explain", "--response-file", resp, "--url", "https://acme.atlassian.net/rest/api/3/myself")
		if code != 0 || !strings.Contains(out, "auth_header_missing") {
			t.Fatalf("exit %d, stderr %q\n%s", code, errOut, out)
		}
	})
	t.Run("curl -v with both sides", func(t *testing.T) {
		capture := "> GET /rest/api/3/myself HTTP/2\n> Host: acme.atlassian.net\n> Authorization: JWT " + vectorToken + "\n>\n< HTTP/2 401\n< server: AtlassianEdge\n<\n"
		req := writeFile(t, "curl-v.txt", capture)
		code, out, errOut := runCmd(t, "", "explain", "--request-file", req, "--app-key", "com.example.other", "--secret", "shared-secret-xyz", "--now", "2023-11-14T22:14:00Z")
		if code != 0 || !strings.Contains(out, "jwt_issuer_wrong") || !strings.Contains(out, "signature: valid") {
			t.Fatalf("exit %d, stderr %q\n%s", code, errOut, out)
		}
		if strings.Contains(out, "shared-secret-xyz") {
			t.Errorf("the secret was printed")
		}
	})
	t.Run("curl -v with a DNS failure", func(t *testing.T) {
		req := writeFile(t, "dns.txt", "* Could not resolve host: acme.atlasian.net\n* Closing connection\ncurl: (6) Could not resolve host: acme.atlasian.net\n> GET /rest/api/3/myself HTTP/1.1\n> Host: acme.atlasian.net\n>\n")
		code, out, _ := runCmd(t, "", "explain", "--request-file", req)
		if code != 0 || !strings.Contains(out, "network") || !strings.Contains(out, "wrong_host") {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
	t.Run("response from stdin", func(t *testing.T) {
		code, out, _ := runCmd(t, anon401, "explain", "--response-file", "-", "--url", "/rest/api/3/myself")
		if code != 0 || !strings.Contains(out, "401") {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
}

func TestExplainBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad header syntax", []string{"explain", "--url", "/x", "--status", "401", "--header", "Authorization Bearer x"}, "malformed header"},
		{"unreadable response file", []string{"explain", "--url", "/x", "--response-file", "/nonexistent/resp.txt"}, "--response-file"},
		{"missing status", []string{"explain", "--url", "/rest/api/3/myself"}, "missing --status"},
		{"missing url", []string{"explain", "--status", "401"}, "missing --url"},
		{"bad scopes", []string{"explain", "--url", "/x", "--status", "403", "--scopes", "READ,SUPERUSER"}, "--scopes"},
		{"bad identity", []string{"explain", "--url", "/x", "--status", "403", "--identity", "robot"}, "--identity"},
		{"response without status line", []string{"explain", "--url", "/x", "--response-file", "BODYFILE"}, "status line"},
		{"unknown flag", []string{"explain", "--colour"}, "flag provided but not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i, a := range tc.args {
				if a == "BODYFILE" {
					tc.args[i] = writeFile(t, "body.json", `{"errorMessages":[]}`)
				}
			}
			code, out, errOut := runCmd(t, "", tc.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2 (out %q)", code, out)
			}
			if !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("stderr %q: want one line containing %q", errOut, tc.want)
			}
		})
	}
}

func TestJWTDecode(t *testing.T) {
	t.Run("valid signature, qsh match, expired", func(t *testing.T) {
		code, out, errOut := runCmd(t, "", "jwt", "decode", vectorToken, "--secret", "shared-secret-xyz", "--url", "/rest/api/3/myself", "--now", "2023-11-14T22:20:00Z")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, want := range []string{"iss:       my-app-key", "2023-11-14T22:16:20Z", "expired 3m40s ago", "expected canonical: GET&/rest/api/3/myself&", "result:             match", "valid with the given secret", "EXPIRED 3m40s ago"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "shared-secret-xyz") {
			t.Error("secret printed")
		}
	})
	t.Run("qsh mismatch names the mistake", func(t *testing.T) {
		// The vector's qsh is for GET /rest/api/3/myself; sent to the same
		// path with a query, the variant search finds "query left out".
		code, out, _ := runCmd(t, "", "jwt", "--now", "2023-11-14T22:00:00Z", "decode", vectorToken, "--url", "https://acme.atlassian.net/rest/api/3/myself?expand=groups")
		if code != 0 || !strings.Contains(out, "MISMATCH") || !strings.Contains(out, "query string was left out") ||
			!strings.Contains(out, "GET&/rest/api/3/myself&expand=groups") {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
	t.Run("wrong secret and JSON", func(t *testing.T) {
		code, out, _ := runCmd(t, "", "jwt", "decode", vectorToken, "--secret", "nope", "--json")
		var r struct {
			Kind      string `json:"kind"`
			Signature string `json:"signature"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.Signature != "invalid" || r.Kind != "connect-jwt" {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
	t.Run("token from stdin", func(t *testing.T) {
		code, out, _ := runCmd(t, "JWT "+vectorToken+"\n", "jwt", "decode", "-")
		if code != 0 || !strings.Contains(out, "my-app-key") {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
	for name, args := range map[string][]string{
		"not a JWT":        {"jwt", "decode", "ATATT3xFfGF0abc"},
		"missing token":    {"jwt", "decode"},
		"missing decode":   {"jwt", vectorToken},
		"bad now":          {"jwt", "decode", vectorToken, "--now", "yesterday"},
		"two tokens given": {"jwt", "decode", vectorToken, vectorToken},
	} {
		t.Run("bad input/"+name, func(t *testing.T) {
			code, _, errOut := runCmd(t, "", args...)
			if code != 2 || errOut == "" {
				t.Fatalf("exit %d stderr %q", code, errOut)
			}
		})
	}
}

func TestQSHCommand(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"documented vector", []string{"qsh", "GET", "/rest/api/3/search?jql=project%20%3D%20TEST&maxResults=50&fields=summary,status"},
			"qsh:       da2b195781b926d0ae1f87542bc5c769f9e741b4c37ce6b4544e5cb56999b1ef"},
		{"confluence base path after the args", []string{"qsh", "get", "https://acme.atlassian.net/wiki/rest/api/space", "--base-path", "/wiki"},
			"canonical: GET&/rest/api/space&"},
		{"gateway prefix detected", []string{"qsh", "GET", "https://api.atlassian.com/ex/jira/11223344-a1b2-3b33-c444-def123456789/rest/api/3/myself"},
			"c790e863cecddbf1369d5e058d5f71d9d19741a497a6e4681351909109759513"},
		{"json", []string{"qsh", "--json", "POST", "/rest/api/3/issue"}, `"qsh": "a64b1ba2731272596784da7588c6e16deb1619108576546ab4299429d981f400"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, "", tc.args...)
			if code != 0 || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d stderr %q\n%s", code, errOut, out)
			}
		})
	}
	for name, args := range map[string][]string{"no url": {"qsh", "GET"}, "bad method": {"qsh", "FETCH", "/x"}} {
		t.Run(name, func(t *testing.T) {
			if code, _, _ := runCmd(t, "", args...); code != 2 {
				t.Fatalf("exit %d, want 2", code)
			}
		})
	}
}

func TestExplainHonestInputs(t *testing.T) {
	perms := "> GET /rest/api/2/permissions HTTP/1.1\n> Host: acme.atlassian.net\n> Authorization: Bearer 0a1b2c3d4e5f60718293a4b5c6d7e8f9\n>\n< HTTP/1.1 401 Unauthorized\n< Server: AtlassianEdge\n< Content-Type: application/json\n<\n"
	t.Run("founding case without scopes names the flags", func(t *testing.T) {
		code, out, errOut := runCmd(t, "", "explain", "--capture", writeFile(t, "p.txt", perms))
		if code != 0 || !strings.Contains(out, "--scopes") || !strings.Contains(out, "--descriptor") {
			t.Fatalf("exit %d %s\n%s", code, errOut, out)
		}
	})
	t.Run("founding case with the descriptor names ADMIN", func(t *testing.T) {
		desc := writeFile(t, "atlassian-connect.json", `{"key":"com.example.app","scopes":["read","write","act_as_user"]}`)
		code, out, errOut := runCmd(t, "", "explain", "--json", "--capture", writeFile(t, "p.txt", perms), "--descriptor", desc, "--as", "user")
		if code != 0 || !strings.Contains(out, `"code": "token_scope_missing"`) || !strings.Contains(out, "ADMIN") {
			t.Fatalf("exit %d %s\n%s", code, errOut, out)
		}
	})
	t.Run("token endpoint refuses to act as a user", func(t *testing.T) {
		raw := "POST /oauth2/token HTTP/1.1\nHost: oauth-2-authorization-server.services.atlassian.com\nContent-Type: application/x-www-form-urlencoded\n\n" +
			"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&scope=READ+WRITE&assertion=eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ1cm46YXRsYXNzaWFuOmNvbm5lY3Q6Y2xpZW50aWQ6YWJjIiwic3ViIjoidXJuOmF0bGFzc2lhbjpjb25uZWN0OnVzZXJhY2NvdW50aWQ6MTIzIn0.c2ln\n\n" +
			"HTTP/1.1 400 Bad Request\nContent-Type: application/json\n\n{\"error\":\"invalid_grant\",\"error_description\":\"The app is not allowed to act as a user\"}"
		code, out, errOut := runCmd(t, "", "explain", "--json", "--capture", writeFile(t, "t.txt", raw))
		if code != 0 || !strings.Contains(out, `"code": "act_as_user_missing"`) || strings.Contains(out, `"code": "auth_header_missing"`) {
			t.Fatalf("exit %d %s\n%s", code, errOut, out)
		}
		i, j := strings.Index(out, `"code": "act_as_user_missing"`), strings.Index(out, `"code": "user_inactive_or_unknown"`)
		if j >= 0 && j < i {
			t.Errorf("inactive user ranked above act_as_user_missing\n%s", out)
		}
	})
	t.Run("response only never claims no credentials", func(t *testing.T) {
		code, out, _ := runCmd(t, "", "explain", "--capture", writeFile(t, "r.txt", anon401))
		if code != 0 || strings.Contains(out, "auth_header_missing") || !strings.Contains(out, "curl -v") {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
	t.Run("HAR failing entries", func(t *testing.T) {
		har := `{"log":{"entries":[{"request":{"method":"GET","url":"https://acme.atlassian.net/rest/api/3/myself","headers":[]},"response":{"status":200,"headers":[],"content":{"text":"{}"}}},` +
			`{"request":{"method":"GET","url":"https://acme.atlassian.net/rest/api/3/field","headers":[]},"response":{"status":403,"headers":[],"content":{"text":"{\"errorMessages\":[\"The IP address has been rejected because it is not on the allowedlist.\"]}"}}}]}}`
		code, out, errOut := runCmd(t, "", "explain", "--har", writeFile(t, "x.har", har))
		if code != 0 || !strings.Contains(out, "== entry 1: GET") || !strings.Contains(out, "ip_allowlist_block") || strings.Contains(out, "entry 0") {
			t.Fatalf("exit %d %s\n%s", code, errOut, out)
		}
	})
}

func TestExplainBadURLsAndHAR(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"explain bad scheme", []string{"explain", "--url", "ht!tp://bad url", "--status", "401"}, "unparseable URL"},
		{"explain unclosed IPv6", []string{"explain", "--url", "http://[::1", "--status", "401"}, "unparseable URL"},
		{"qsh bad scheme", []string{"qsh", "GET", "ht!tp://bad url"}, "unparseable URL"},
		{"qsh unclosed IPv6", []string{"qsh", "GET", "http://[::1"}, "unparseable URL"},
		{"HAR not JSON", []string{"explain", "--har", "HAR:not json"}, "not a HAR file"},
		{"HAR no entries", []string{"explain", "--har", `HAR:{"log":{"entries":[]}}`}, "no entries"},
		{"HAR no match", []string{"explain", "--har", `HAR:{"log":{"entries":[{"request":{"method":"GET","url":"https://x.example/a"},"response":{"status":200}}]}}`, "--url-contains", "zzz"}, "no HAR entry matches"},
		{"bad descriptor", []string{"explain", "--url", "/x", "--status", "401", "--descriptor", "HAR:{"}, "--descriptor"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i, a := range tc.args {
				if strings.HasPrefix(a, "HAR:") {
					tc.args[i] = writeFile(t, "in.har", strings.TrimPrefix(a, "HAR:"))
				}
			}
			code, out, errOut := runCmd(t, "", tc.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2 (out %q)", code, out)
			}
			if !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("stderr %q: want one line containing %q", errOut, tc.want)
			}
		})
	}
}
