package explain_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/explain"
)

// Captures written in the exact shape curl prints them.
const curlI401 = "HTTP/2 401 \r\n" +
	"date: Sat, 14 Mar 2026 15:09:26 GMT\r\n" +
	"content-type: application/json;charset=UTF-8\r\n" +
	"server: AtlassianEdge\r\n" +
	"x-seraph-loginreason: AUTHENTICATED_FAILED\r\n" +
	"www-authenticate: OAuth realm=\"https%3A%2F%2Facme.atlassian.net\"\r\n" +
	"x-arequestid: 0f1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8\r\n" +
	"atl-traceid: 6f0e1b7c2a9d4e3f\r\n" +
	"\r\n" +
	`{"message":"Client must be authenticated to access this resource.","status-code":401}`

const curlIContinueRedirect = "HTTP/1.1 100 Continue\r\n\r\n" +
	"HTTP/1.1 301 Moved Permanently\r\nLocation: https://acme.atlassian.net/rest/api/3/issue\r\nContent-Length: 0\r\n\r\n" +
	"HTTP/2 403 \r\ncontent-type: application/json\r\nx-aaccountid: 5b10ac8d82e05b22cc7d4ef5\r\n\r\n" +
	`{"errorMessages":["You do not have permission to create issues in this project."],"errors":{}}`

const curlIProxy = "HTTP/1.1 200 Connection established\r\n\r\n" +
	"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 17\r\nContent-Type: application/json\r\n\r\n{}"

const curlV = `*   Trying 104.192.142.18:443...
* Connected to acme.atlassian.net (104.192.142.18) port 443
* ALPN: curl offers h2,http/1.1
* SSL connection using TLSv1.3 / TLS_AES_128_GCM_SHA256 / X25519 / RSASSA-PSS
* using HTTP/2
> GET /rest/api/3/search/jql?jql=project%20%3D%20ABC HTTP/2
> Host: acme.atlassian.net
> User-Agent: curl/8.5.0
> Accept: application/json
> Authorization: JWT eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJjb20uZXhhbXBsZSJ9.c2ln
> Content-Length: 27
> Content-Type: application/json
>
} [27 bytes data]
< HTTP/2 401
< date: Sat, 14 Mar 2026 15:09:26 GMT
< content-type: application/json;charset=UTF-8
< server: AtlassianEdge
< www-authenticate: JWT realm="acme"
<
{ [2 bytes data]
* Connection #0 to host acme.atlassian.net left intact
{}`

const rawRequest = "POST /rest/api/3/issue HTTP/1.1\r\n" +
	"Host: acme.atlassian.net\r\n" +
	"Authorization: Basic amFuZUBhY21lLmNvbTpBVEFUVDN4RmZHRjA=\r\n" +
	"Content-Type: application/json\r\n" +
	"\r\n" +
	`{"fields":{"summary":"x"}}`

func TestParseResponse(t *testing.T) {
	tests := []struct {
		name      string
		raw       string
		status    int
		header    [2]string
		body      string
		redirects int
	}{
		{"curl -i HTTP/2 with CRLF", curlI401, 401, [2]string{"X-Seraph-Loginreason", "AUTHENTICATED_FAILED"}, "Client must be authenticated", 0},
		{"100 Continue then redirect then 403", curlIContinueRedirect, 403, [2]string{"X-Aaccountid", "5b10ac8d82e05b22cc7d4ef5"}, "create issues", 1},
		{"proxy CONNECT then 429", curlIProxy, 429, [2]string{"Retry-After", "17"}, "{}", 0},
		{"LF line ends and HTTP/1.0", "HTTP/1.0 403 Forbidden\nServer: nginx\n\n<html>403</html>\n", 403, [2]string{"Server", "nginx"}, "<html>403</html>", 0},
		{"curl -v response side", curlV, 401, [2]string{"Www-Authenticate", `JWT realm="acme"`}, "{}", 0},
		{"folded header", "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"x\",\r\n error=\"invalid_token\"\r\n\r\n", 401, [2]string{"Www-Authenticate", `Bearer realm="x", error="invalid_token"`}, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := explain.ParseResponse(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tc.status {
				t.Errorf("status %d, want %d", r.Status, tc.status)
			}
			if got := r.Header.Get(tc.header[0]); got != tc.header[1] {
				t.Errorf("header %s = %q, want %q", tc.header[0], got, tc.header[1])
			}
			if !strings.Contains(string(r.Body), tc.body) {
				t.Errorf("body %q lacks %q", r.Body, tc.body)
			}
			if len(r.Redirects) != tc.redirects {
				t.Errorf("redirects %v, want %d", r.Redirects, tc.redirects)
			}
		})
	}
}

func TestParseResponseErrors(t *testing.T) {
	for name, raw := range map[string]string{
		"empty":       "",
		"no status":   "content-type: text/html\n\n<html>",
		"bad code":    "HTTP/1.1 abc Unauthorized\n\n",
		"bad header":  "HTTP/1.1 401 Unauthorized\nthis is not a header\n\n",
		"status only": "HTTP/1.1",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := explain.ParseResponse(raw)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, explain.ErrNoStatus) && !errors.Is(err, explain.ErrBadHeader) {
				t.Errorf("error %v is not a sentinel", err)
			}
		})
	}
}

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name, raw, method, url, auth string
		body                         bool
	}{
		{"raw POST", rawRequest, "POST", "https://acme.atlassian.net/rest/api/3/issue", "Basic amFuZUBhY21lLmNvbTpBVEFUVDN4RmZHRjA=", true},
		{"curl -v request side", curlV, "GET", "https://acme.atlassian.net/rest/api/3/search/jql?jql=project%20%3D%20ABC", "JWT eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJjb20uZXhhbXBsZSJ9.c2ln", true},
		{"absolute target, no body", "GET https://api.example.com/v1/me HTTP/1.1\nAuthorization: Bearer abc\n\n", "GET", "https://api.example.com/v1/me", "Bearer abc", false},
		{"relative target without Host", "get /rest/api/3/myself HTTP/1.1\n\n", "GET", "/rest/api/3/myself", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := explain.ParseRequest(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			if r.Method != tc.method || r.URL != tc.url || r.Header.Get("Authorization") != tc.auth || r.HasBody != tc.body {
				t.Errorf("got %s %s auth=%q body=%v", r.Method, r.URL, r.Header.Get("Authorization"), r.HasBody)
			}
		})
	}
	if _, err := explain.ParseRequest("HTTP/1.1 200 OK\n\n"); !errors.Is(err, explain.ErrNoRequest) {
		t.Errorf("response parsed as request: %v", err)
	}
}

func TestParseExchange(t *testing.T) {
	t.Run("curl -v", func(t *testing.T) {
		req, resp, err := explain.ParseExchange(curlV)
		if err != nil {
			t.Fatal(err)
		}
		if req.Method != "GET" || resp.Status != 401 || !req.HasBody {
			t.Errorf("got %s %d body=%v", req.Method, resp.Status, req.HasBody)
		}
		// A GET with a body, refused with 401 and a JWT challenge: the engine
		// must see both sides.
		d := engine.Diagnose(explain.Input{Request: req, Response: resp, Context: explain.Context{Now: testNow}})
		if _, i := findCause(d, explain.GetWithBody); i < 0 {
			t.Errorf("get_with_body not found\n%s", dump(d))
		}
	})
	t.Run("raw request then raw response", func(t *testing.T) {
		req, resp, err := explain.ParseExchange(rawRequest + "\r\n\r\n" + curlI401)
		if err != nil {
			t.Fatal(err)
		}
		if req.Method != "POST" || resp.Status != 401 {
			t.Errorf("got %s %d", req.Method, resp.Status)
		}
	})
	t.Run("request only", func(t *testing.T) {
		_, _, err := explain.ParseExchange(rawRequest)
		if !errors.Is(err, explain.ErrNoResponse) {
			t.Errorf("err %v, want ErrNoResponse", err)
		}
	})
}

func TestCurlError(t *testing.T) {
	out := "* Could not resolve host: acme.atlasian.net\n* Closing connection\ncurl: (6) Could not resolve host: acme.atlasian.net\n"
	err := explain.CurlError(out)
	if err == nil || !strings.Contains(err.Error(), "Could not resolve host") {
		t.Fatalf("CurlError = %v", err)
	}
	if explain.CurlError(curlV) != nil {
		t.Errorf("a successful transcript reported a transport error")
	}
	d := engine.Diagnose(explain.Input{Request: explain.Request{Method: "GET", URL: "https://acme.atlasian.net/rest/api/3/myself"}, Context: explain.Context{NetworkErr: err}})
	if top, _ := d.Top(); top.Code != explain.WrongHost || d.Verdict != explain.VerdictNetwork {
		t.Errorf("top %s verdict %s\n%s", top.Code, d.Verdict, dump(d))
	}
}
